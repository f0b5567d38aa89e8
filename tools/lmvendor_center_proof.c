/* lmvendor's key center: the proof of entitlement of an order (`order
 * proof`), the document a customer files to show an auditor what it
 * bought: the vendor, the site and its proof-of-entitlement contact, the
 * order, and every entitlement line with its quantity and term.
 *
 * The same lines are printed as text, or drawn by cairo into a PDF (A4,
 * as many pages as the lines need), written to a temporary file and
 * renamed, so that a half-drawn document never carries the final name. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "core/error.h"
#include "tools/json.h"
#include "tools/lmvendor.h"
#include "tools/lmvendor_center.h"
#include "tools/report.h"

/* A4 in points, its margin, and the line height. */
#define PAGE_WIDTH  595.0
#define PAGE_HEIGHT 842.0
#define MARGIN      56.0
#define LEADING     15.0

#define TEXT(rec, field) (json_string_value(json_object_get(rec, field)) ?: "")

/* The document: its heading lines, then one line per entitlement. */
static json_t *proof_document(struct lm_kc *kc, const char *number, int *rc)
{
	char key[LM_KC_KEY_MAX + 1];
	json_t *order = NULL, *site = NULL, *meta = NULL;
	*rc = lm_kc_key(key, sizeof key, "order/%s", number);
	if (*rc == 0)
		*rc = lm_kc_get(kc, key, &order);
	if (*rc)
		return NULL;
	lm_kc_key(key, sizeof key, "site/%s", TEXT(order, "site"));
	if ((*rc = lm_kc_get(kc, key, &site)) != 0 || (*rc = lm_kc_get(kc, "meta", &meta)) != 0) {
		json_decref(order);
		json_decref(site);
		if (*rc > 0)
			*rc = lm_kc_fail(
			        kc, LMC_EIO,
			        "the key-center store %s is corrupted: the site of order %s "
			        "is missing",
			        kc->path, number);
		return NULL;
	}
	json_t *contacts = json_object_get(site, "contacts");
	const char *contact = json_string_value(json_object_get(contacts, "administrative"))
	                              ?: json_string_value(json_object_get(contacts, "primary"));
	json_t *doc = lm_json_object();
	lm_json_set(doc, "vendor", json_incref(json_object_get(meta, "vendor")));
	lm_json_set(doc, "order", lm_json_text(number));
	lm_json_set(doc, "po", json_incref(json_object_get(order, "po") ?: json_null()));
	lm_json_set(doc, "date", json_incref(json_object_get(order, "date")));
	lm_json_set(doc, "site", json_incref(json_object_get(site, "number")));
	lm_json_set(doc, "company", json_incref(json_object_get(site, "company")));
	lm_json_set(doc, "contact", lm_json_text_or_null(contact));
	lm_json_set(doc, "partner", json_incref(json_object_get(order, "partner") ?: json_null()));
	json_t *lines = lm_json_array();
	size_t i;
	json_t *id;
	json_array_foreach(json_object_get(order, "entitlements"), i, id)
	{
		json_t *ent = NULL;
		lm_kc_key(key, sizeof key, "entitlement/%s", json_string_value(id) ?: "");
		if ((*rc = lm_kc_get(kc, key, &ent)) != 0) {
			if (*rc > 0)
				*rc = lm_kc_fail(kc, LMC_EIO,
				                 "the key-center store %s is corrupted: an "
				                 "entitlement of order %s is missing",
				                 kc->path, number);
			json_decref(doc);
			doc = NULL;
			break;
		}
		json_t *line = lm_json_object();
		const char *fields[] = {"id",       "product", "feature", "version",     "type",
		                        "quantity", "start",   "end",     "maintenance", "renews"};
		for (size_t f = 0; f < sizeof fields / sizeof *fields; f++)
			lm_json_set(line, fields[f],
			            json_incref(json_object_get(ent, fields[f]) ?: json_null()));
		lm_json_append(lines, line);
		json_decref(ent);
	}
	if (doc)
		lm_json_set(doc, "entitlements", json_incref(lines));
	json_decref(lines);
	json_decref(order);
	json_decref(site);
	json_decref(meta);
	return doc;
}

/* The document as lines of text, for the terminal and the PDF alike. */
static json_t *proof_text(json_t *doc)
{
	json_t *out = lm_json_array();
	char line[1024];
#define ADD(...)                                                                                   \
	do {                                                                                       \
		snprintf(line, sizeof line, __VA_ARGS__);                                          \
		lm_json_append(out, lm_json_text(line));                                           \
	} while (0)
	ADD("Proof of entitlement");
	ADD("Vendor: %s", TEXT(doc, "vendor"));
	ADD("Site %s: %s", TEXT(doc, "site"), TEXT(doc, "company"));
	ADD("Proof-of-entitlement contact: %s",
	    json_string_value(json_object_get(doc, "contact")) ?: "(none on record)");
	ADD("Order %s of %s, purchase order %s", TEXT(doc, "order"), TEXT(doc, "date"),
	    json_string_value(json_object_get(doc, "po")) ?: "none");
	ADD("Partner of record: %s",
	    json_string_value(json_object_get(doc, "partner")) ?: "none (sold direct)");
	ADD("%s", "");
	ADD("%-5s %-16s %-8s %-22s %8s  %-10s %-10s %s", "LINE", "FEATURE", "VERSION", "TYPE",
	    "QUANTITY", "FROM", "UNTIL", "MAINTENANCE");
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(doc, "entitlements"), i, e)
	{
		const char *product = TEXT(e, "product"), *feature = TEXT(e, "feature");
		const char *renews = json_string_value(json_object_get(e, "renews"));
		ADD("%-5s %-16s %-8s %-22s %8lld  %-10s %-10s %s%s%s%s", TEXT(e, "id"), feature,
		    TEXT(e, "version"), TEXT(e, "type"),
		    (long long)json_integer_value(json_object_get(e, "quantity")),
		    json_string_value(json_object_get(e, "start")) ?: "order date", TEXT(e, "end"),
		    json_string_value(json_object_get(e, "maintenance")) ?: "-",
		    strcmp(product, feature) ? "  (of bundle " : "",
		    strcmp(product, feature) ? product : "", strcmp(product, feature) ? ")" : "");
		const char *copies = kc_type_copies(TEXT(e, "type"));
		if (copies)
			ADD("      %s: %s", copies,
			    kc_type_single_copy(TEXT(e, "type"))
			            ? "each authorization code is good for one machine"
			            : "a code installs on as many machines as its quantity");
		if (renews)
			ADD("      renews %s", renews);
	}
#undef ADD
	return out;
}

static int draw_pdf(const char *path, json_t *doc, json_t *text)
{
	char tmp[4200];
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
		lm_report_fail(LMC_EINVAL, "order proof: --pdf path is too long");
		return 1;
	}
	cairo_surface_t *surface = cairo_pdf_surface_create(tmp, PAGE_WIDTH, PAGE_HEIGHT);
	if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
		cairo_surface_destroy(surface);
		lm_report_fail(LMC_EIO, "order proof: cannot write %s", tmp);
		return 1;
	}
	char title[256];
	snprintf(title, sizeof title, "Proof of entitlement, order %s, site %s", TEXT(doc, "order"),
	         TEXT(doc, "site"));
	cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title);
	cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "lmvendor order proof");
	cairo_t *cr = cairo_create(surface);
	cairo_select_font_face(cr, "monospace", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	double y = MARGIN;
	size_t i;
	json_t *line;
	json_array_foreach(text, i, line)
	{
		if (y > PAGE_HEIGHT - MARGIN) {
			cairo_show_page(cr);
			y = MARGIN;
		}
		cairo_set_font_size(cr, i == 0 ? 16.0 : 8.5);
		cairo_move_to(cr, MARGIN, y);
		cairo_show_text(cr, json_string_value(line));
		y += i == 0 ? 2 * LEADING : LEADING;
	}
	cairo_show_page(cr);
	cairo_destroy(cr);
	cairo_surface_finish(surface);
	cairo_status_t status = cairo_surface_status(surface);
	cairo_surface_destroy(surface);
	/* The fonts cairo and fontconfig cached for the one document: freed,
	 * so that the sanitizers' leak check sees a clean exit. */
	cairo_debug_reset_static_data();
	FcFini();
	if (status != CAIRO_STATUS_SUCCESS || rename(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		lm_report_fail(LMC_EIO, "order proof: cannot write %s: %s", path,
		               status != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(status)
		                                              : strerror(err));
		return 1;
	}
	return 0;
}

int kc_order_proof(struct lm_kc *kc, const char *number, const char *pdf)
{
	int rc = lm_kc_begin(kc, false);
	json_t *doc = rc ? NULL : proof_document(kc, number, &rc);
	if (rc == LM_KC_NOTFOUND) {
		lm_kc_abort(kc);
		lm_report_fail(LMC_EINVAL, "order proof: no order %s", number);
		return 1;
	}
	if (rc)
		return kc_fail(kc, rc);
	lm_kc_abort(kc);
	json_t *text = proof_text(doc);
	int status = pdf ? draw_pdf(pdf, doc, text) : 0;
	if (status == 0 && lm_report_is_json()) {
		lm_json_set(doc, "pdf", lm_json_text_or_null(pdf));
		status = lm_report_print(json_incref(doc));
	} else if (status == 0) {
		size_t i;
		json_t *line;
		json_array_foreach(text, i, line) printf("%s\n", json_string_value(line));
		if (pdf)
			fprintf(stderr, "lmvendor: proof of entitlement written to %s\n", pdf);
	}
	json_decref(text);
	json_decref(doc);
	return status;
}
