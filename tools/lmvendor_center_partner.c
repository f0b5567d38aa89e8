/* lmvendor's key center: the partner of record of an order (`order
 * partner`), the reseller who sold the subscription and answers the
 * customer's first questions about it.  It changes when a customer moves
 * to another reseller; who it was before stays, because a renewal quote
 * or a commission is settled by who held the order on a given day.
 *
 * The order record keeps the current partner in "partner" and every
 * change in "partner_history": [{"partner","since","until"}], the last
 * entry the current one ("until" null). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core/date.h"
#include "core/error.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

int kc_partner_set(json_t *order, const char *partner, int32_t day)
{
	json_t *history = json_object_get(order, "partner_history");
	if (!history)
		json_object_set_new(order, "partner_history", history = lm_json_array());
	if (!json_is_array(history))
		return LMC_EIO;
	json_t *current = json_array_get(history, json_array_size(history) - 1);
	const char *now = json_string_value(json_object_get(current, "partner"));
	if (current && now && !strcmp(now, partner))
		return LM_KC_NOTFOUND;
	if (current)
		lm_json_set(current, "until", kc_date_json(day));
	json_t *entry = lm_json_object();
	lm_json_set(entry, "partner", lm_json_text(partner));
	lm_json_set(entry, "since", kc_date_json(day));
	lm_json_set(entry, "until", json_null());
	lm_json_append(history, entry);
	lm_json_set(order, "partner", lm_json_text(partner));
	return 0;
}

static void print_history(json_t *order)
{
	printf("order %s, site %s: partner of record %s\n",
	       json_string_value(json_object_get(order, "number")),
	       json_string_value(json_object_get(order, "site")),
	       json_string_value(json_object_get(order, "partner")) ?: "none (sold direct)");
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(order, "partner_history"), i, h)
	        printf("  %s from %s%s%s\n", json_string_value(json_object_get(h, "partner")),
	               json_string_value(json_object_get(h, "since")),
	               json_object_get(h, "until") && !json_is_null(json_object_get(h, "until"))
	                       ? " until "
	                       : " (current)",
	               json_string_value(json_object_get(h, "until")) ?: "");
}

int kc_order_partner(struct lm_kc *kc, const char *number, const char *partner)
{
	char key[LM_KC_KEY_MAX + 1];
	json_t *order = NULL;
	int rc = lm_kc_key(key, sizeof key, "order/%s", number);
	if (rc == 0 && (rc = lm_kc_begin(kc, partner != NULL)) == 0)
		rc = lm_kc_get(kc, key, &order);
	if (rc == LM_KC_NOTFOUND) {
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "order partner: no order %s; nothing was changed",
		               number);
		return 1;
	}
	if (rc)
		return kc_fail(kc, rc);
	bool changed = false;
	if (partner) {
		rc = kc_partner_set(order, partner, kc_today());
		if (rc < 0) {
			json_decref(order);
			return kc_fail(kc, lm_kc_fail(kc, rc,
			                              "the key-center store %s is corrupted: the "
			                              "partner history of order %s",
			                              kc->path, number));
		}
		changed = rc == 0;
		if (changed &&
		    ((rc = lm_kc_put(kc, key, order)) != 0 || (rc = lm_kc_commit(kc)) != 0)) {
			json_decref(order);
			return kc_fail(kc, rc);
		}
	}
	lm_kc_abort(kc);
	if (lm_report_is_json()) {
		json_t *doc = lm_json_object();
		lm_json_set(doc, "order", json_incref(json_object_get(order, "number")));
		lm_json_set(doc, "site", json_incref(json_object_get(order, "site")));
		lm_json_set(doc, "partner",
		            json_incref(json_object_get(order, "partner") ?: json_null()));
		lm_json_set(doc, "changed", lm_json_bool(changed));
		json_t *history = json_object_get(order, "partner_history");
		lm_json_set(doc, "history", history ? json_incref(history) : lm_json_array());
		json_decref(order);
		return lm_report_print(doc);
	}
	print_history(order);
	json_decref(order);
	return 0;
}
