/* Options files: the file-wide settings GROUPCASEINSENSITIVE, NOLOG,
 * REPORTLOG and DEBUGLOG. */
#include "core/options_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lm_opt_parse_setting(struct lm_opt_state *st, const struct lm_opt_syntax *k, char **w, int nw)
{
	struct lm_options *o = st->o;
	struct lm_opt_sbuf b = {0};

	lm_opt_sb_str(&b, k->name);
	switch (k->shape) {
	case SHAPE_ON_OFF:
		if (nw != 1 || (strcasecmp(w[0], "ON") && strcasecmp(w[0], "OFF"))) {
			ERR("write GROUPCASEINSENSITIVE ON or GROUPCASEINSENSITIVE OFF");
			goto fail;
		}
		/* A file-wide switch: the last line wins, wherever groups are. */
		o->case_insensitive = strcasecmp(w[0], "ON") == 0;
		lm_opt_sb_word(&b, o->case_insensitive ? "ON" : "OFF");
		break;
	case SHAPE_NOLOG: {
		static const struct {
			const char *name;
			unsigned bit;
		} events[] = {{"IN", LM_OPT_NOLOG_IN},
		              {"OUT", LM_OPT_NOLOG_OUT},
		              {"DENIED", LM_OPT_NOLOG_DENIED},
		              {"QUEUED", LM_OPT_NOLOG_QUEUED},
		              {"UNSUPPORTED", LM_OPT_NOLOG_UNSUPPORTED}};
		if (nw < 1) {
			ERR("NOLOG needs an event: write NOLOG IN, NOLOG OUT, NOLOG DENIED, NOLOG "
			    "QUEUED or NOLOG UNSUPPORTED");
			goto fail;
		}
		if (nw > 1)
			WARN("only NOLOG %s is read, as FlexLM does: write one NOLOG line per "
			     "event",
			     w[0]);
		size_t i;
		for (i = 0; i < sizeof events / sizeof *events; i++)
			if (strcasecmp(w[0], events[i].name) == 0)
				break;
		if (i == sizeof events / sizeof *events) {
			ERR("NOLOG %s: the events are IN, OUT, DENIED, QUEUED and UNSUPPORTED",
			    w[0]);
			goto fail;
		}
		o->nolog |= events[i].bit;
		lm_opt_sb_word(&b, events[i].name);
		if (events[i].bit == LM_OPT_NOLOG_QUEUED)
			WARN("NOLOG QUEUED has no effect yet: lmd does not queue requests");
		break;
	}
	case SHAPE_PATH: {
		bool report = k->kw == LM_OPT_REPORTLOG, hide = false;
		if (nw < 1 || nw > (report ? 2 : 1) ||
		    (nw == 2 && strcasecmp(w[1], "HIDE_USER") != 0)) {
			ERR("write %s", k->usage);
			goto fail;
		}
		hide = nw == 2;
		const char *path = w[0];
		bool append = path[0] == '+';
		if (append)
			path++;
		if (!*path || strlen(path) > 4095) {
			ERR("%s needs a file name after the optional '+'", k->name);
			goto fail;
		}
		if (!report)
			WARN("%s has no effect yet: lmd logs on stderr or to the journal", k->name);
		char **dst = report ? &o->reportlog : &o->debuglog;
		if (*dst)
			WARN("a second %s line: this one replaces the one before", k->name);
		free(*dst);
		*dst = lm_opt_strdup(st, path);
		if (report) {
			o->reportlog_append = append;
			o->reportlog_hide_user = hide;
		} else {
			o->debuglog_append = append;
		}
		lm_opt_sb_word(&b, w[0]);
		if (hide)
			lm_opt_sb_word(&b, "HIDE_USER");
		break;
	}
	default: break;
	}
	if (b.failed) {
		st->nomem = true;
		goto fail;
	}
	lm_opt_canon_add(st, b.p);
	return;
fail:
	free(b.p);
}
