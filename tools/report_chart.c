/* lmutil report's charts (lmutil_report.h, report_chart_internal.h): use
 * over time per feature against its licensed count, denials per day, and
 * the users with the most seat-hours, as PNG or SVG bytes. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "tools/lmutil_report.h"
#include "tools/report_chart_internal.h"

#define DAY_US INT64_C(86400000000)

/* Most features and users a chart shows: past that, lines and bars stop
 * being told apart.  The rest are named by count in the legend. */
#define SHOWN_FEATURES LM_CHART_PALETTE
#define SHOWN_USERS    12

bool lm_chart_kind_parse(const char *name, enum lm_chart_kind *kind)
{
	static const char *names[] = {"use", "denials", "users"};
	for (size_t i = 0; i < 3; i++)
		if (strcmp(name, names[i]) == 0) {
			*kind = (enum lm_chart_kind)i;
			return true;
		}
	return false;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n > m && strcasecmp(s + n - m, tail) == 0;
}

bool lm_chart_type_of(const char *path, enum lm_chart_type *type)
{
	if (ends_with(path, ".png"))
		*type = LM_CHART_PNG;
	else if (ends_with(path, ".svg"))
		*type = LM_CHART_SVG;
	else
		return false;
	return true;
}

/* The features by their seat-hours in the trace, most first: the ones a
 * chart shows. */
struct ranked {
	uint32_t index;
	double value;
};

static int most_first(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static struct ranked *rank_features(const struct lm_usage *u)
{
	struct ranked *r = calloc(u->nfeatures ? u->nfeatures : 1, sizeof *r);
	if (!r)
		return NULL;
	for (size_t f = 0; f < u->nfeatures; f++) {
		const struct lm_trace_bucket *b = &u->trace.buckets[f * LM_TRACE_BUCKETS];
		r[f].index = (uint32_t)f;
		for (size_t i = 0; i < u->trace.nbuckets; i++)
			r[f].value +=
			        b[i].seat_us + b[i].peak; /* a feature only denied still shows */
	}
	qsort(r, u->nfeatures, sizeof *r, most_first);
	return r;
}

static void width_words(int64_t us, char *buf, size_t size)
{
	int64_t min = us / 60000000;
	if (min == 1 || min == 60 || min == 1440)
		snprintf(buf, size, "%s", min == 1 ? "minute" : min == 60 ? "hour" : "day");
	else if (min % 1440 == 0)
		snprintf(buf, size, "%lld days", (long long)(min / 1440));
	else if (min % 60 == 0)
		snprintf(buf, size, "%lld hours", (long long)(min / 60));
	else
		snprintf(buf, size, "%lld minutes", (long long)min);
}

static void more_in_legend(struct lm_chart_frame *fr, size_t more, const char *what)
{
	char text[64];
	if (more == 0)
		return;
	snprintf(text, sizeof text, "(+%zu more %s)", more, what);
	cairo_set_source_rgb(fr->cr, 0.4, 0.4, 0.4);
	lm_chart_legend(fr, LM_SWATCH_BOX, text);
}

/* (a) Seats in use: per feature the peak of each bucket as a step line
 * over a light area, and its licensed count dashed in the same colour. */
static int draw_use(const struct lm_usage *u, cairo_t *cr)
{
	const struct lm_usage_trace *tr = &u->trace;
	struct lm_chart_frame fr;
	char width[32], subtitle[128];
	width_words(tr->width_us ? tr->width_us : LM_TRACE_WIDTH_MIN, width, sizeof width);
	snprintf(subtitle, sizeof subtitle,
	         "the most seats held at once in each %s, and the seats licensed (dashed)", width);
	lm_chart_begin(&fr, cr, "Seats in use", subtitle, 56);
	struct ranked *order = rank_features(u);
	if (!order)
		return -1;
	size_t shown = u->nfeatures < SHOWN_FEATURES ? u->nfeatures : SHOWN_FEATURES;
	double max = 0;
	for (size_t k = 0; k < shown; k++) {
		const struct lm_trace_bucket *b = &tr->buckets[order[k].index * LM_TRACE_BUCKETS];
		for (size_t i = 0; i < tr->nbuckets; i++)
			max = fmax(max, fmax(b[i].peak, b[i].issued));
	}
	double top, step = lm_chart_nice_range(max * 1.05, &top);
	fr.y1 = top;
	fr.x0 = (double)tr->origin_us;
	fr.x1 = (double)(tr->origin_us + (int64_t)(tr->nbuckets ? tr->nbuckets : 1) * tr->width_us);
	if (tr->nbuckets == 0)
		fr.x1 = fr.x0 + 1;
	lm_chart_value_axis_y(&fr, step, "seats");
	if (tr->nbuckets)
		lm_chart_time_axis(&fr, tr->width_us);
	else
		lm_chart_note(&fr, "no records in range");
	cairo_rectangle(cr, fr.left, fr.top, fr.right - fr.left, fr.bottom - fr.top);
	cairo_clip(cr);
	for (size_t k = 0; k < shown && tr->nbuckets; k++) {
		const struct lm_trace_bucket *b = &tr->buckets[order[k].index * LM_TRACE_BUCKETS];
		/* The step line, closed along the axis for the area under it. */
		cairo_move_to(cr, lm_chart_x(&fr, fr.x0), lm_chart_y(&fr, 0));
		for (size_t i = 0; i < tr->nbuckets; i++) {
			double x = lm_chart_x(&fr,
			                      (double)(tr->origin_us + (int64_t)i * tr->width_us));
			double xe = lm_chart_x(
			        &fr, (double)(tr->origin_us + (int64_t)(i + 1) * tr->width_us));
			/* On whole pixels: a 2-pixel line between two rows is
			 * drawn in full, not blurred over four. */
			cairo_line_to(cr, x, round(lm_chart_y(&fr, b[i].peak)));
			cairo_line_to(cr, xe, round(lm_chart_y(&fr, b[i].peak)));
		}
		cairo_line_to(cr, lm_chart_x(&fr, fr.x1), lm_chart_y(&fr, 0));
		cairo_close_path(cr);
		lm_chart_colour(cr, k, 0.12);
		cairo_fill_preserve(cr);
		lm_chart_colour(cr, k, 1);
		cairo_set_line_width(cr, 2);
		cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
		cairo_stroke(cr);
		/* The licensed count, where the log said it: thinner, over
		 * the use line, so that both show when all seats are taken. */
		static const double dash[] = {7, 4};
		cairo_save(cr);
		cairo_set_dash(cr, dash, 2, 0);
		cairo_set_line_width(cr, 1);
		bool drawing = false;
		for (size_t i = 0; i < tr->nbuckets; i++) {
			if (!b[i].issued) {
				drawing = false;
				continue;
			}
			double x = lm_chart_x(&fr,
			                      (double)(tr->origin_us + (int64_t)i * tr->width_us));
			double xe = lm_chart_x(
			        &fr, (double)(tr->origin_us + (int64_t)(i + 1) * tr->width_us));
			double y = round(lm_chart_y(&fr, b[i].issued)) + 0.5;
			if (drawing)
				cairo_line_to(cr, x, y);
			else
				cairo_move_to(cr, x, y);
			cairo_line_to(cr, xe, y);
			drawing = true;
		}
		cairo_stroke(cr);
		cairo_restore(cr);
	}
	cairo_reset_clip(cr);
	for (size_t k = 0; k < shown; k++) {
		char label[160];
		const char *name = u->features[order[k].index].name;
		lm_chart_colour(cr, k, 1);
		lm_chart_legend(&fr, LM_SWATCH_LINE, name);
		snprintf(label, sizeof label, "%s licensed", name);
		lm_chart_colour(cr, k, 1);
		lm_chart_legend(&fr, LM_SWATCH_DASH, label);
	}
	more_in_legend(&fr, u->nfeatures - shown, "features");
	free(order);
	return 0;
}

/* (b) Denials per day, stacked: no seat free anywhere (the true shortage),
 * refused by the options file, and the rest. */
static int draw_denials(const struct lm_usage *u, cairo_t *cr)
{
	const struct lm_usage_trace *tr = &u->trace;
	static const uint32_t colours[3] = {0xcc2626, 0xf29a1a, 0x999999};
	static const char *names[3] = {"no seat free", "refused by options", "other"};
	struct lm_chart_frame fr;
	lm_chart_begin(&fr, cr, "Denials per day",
	               "checkouts refused each UTC day: no seat free apart from policy refusals",
	               56);
	double max = 0;
	for (size_t d = 0; d < tr->ndays; d++)
		max = fmax(max,
		           (double)(tr->days[d].no_seat + tr->days[d].policy + tr->days[d].other));
	double top, step = lm_chart_nice_range(max, &top);
	fr.y1 = top;
	fr.x0 = (double)(tr->first_day * DAY_US);
	fr.x1 = (double)((tr->first_day + (int64_t)(tr->ndays ? tr->ndays : 1)) * DAY_US);
	lm_chart_value_axis_y(&fr, step, "denials");
	if (tr->ndays)
		lm_chart_time_axis(&fr, DAY_US);
	else
		lm_chart_note(&fr, "no denials in range");
	double slot = (fr.right - fr.left) / (double)(tr->ndays ? tr->ndays : 1);
	double bar = fmax(1, slot * 0.7);
	for (size_t d = 0; d < tr->ndays; d++) {
		uint64_t parts[3] = {tr->days[d].no_seat, tr->days[d].policy, tr->days[d].other};
		double x = fr.left + slot * ((double)d + 0.5) - bar / 2, base = 0;
		for (int p = 0; p < 3; p++) {
			if (!parts[p])
				continue;
			double y0 = lm_chart_y(&fr, base),
			       y1 = lm_chart_y(&fr, base + (double)parts[p]);
			lm_chart_rgb(cr, colours[p], 1);
			cairo_rectangle(cr, x, y1, bar, y0 - y1);
			cairo_fill(cr);
			base += (double)parts[p];
		}
	}
	for (int p = 0; p < 3; p++) {
		lm_chart_rgb(cr, colours[p], 1);
		lm_chart_legend(&fr, LM_SWATCH_BOX, names[p]);
	}
	return 0;
}

/* (c) The users with the most seat-hours, one bar each, in parts per
 * feature. */
static int draw_users(const struct lm_usage *u, cairo_t *cr)
{
	struct lm_chart_frame fr;
	lm_chart_begin(&fr, cr, "Top users",
	               "seat-hours held per user, in parts per feature (most features shown)", 130);
	struct ranked *users = calloc(u->nusers ? u->nusers : 1, sizeof *users);
	struct ranked *order = rank_features(u);
	size_t *colour_of = calloc(u->nfeatures ? u->nfeatures : 1, sizeof *colour_of);
	if (!users || !order || !colour_of) {
		free(users);
		free(order);
		free(colour_of);
		return -1;
	}
	size_t shown_features = u->nfeatures < SHOWN_FEATURES ? u->nfeatures : SHOWN_FEATURES;
	for (size_t k = 0; k < u->nfeatures; k++)
		colour_of[order[k].index] = k < shown_features ? k : SIZE_MAX;
	for (size_t i = 0; i < u->nusers; i++)
		users[i].index = (uint32_t)i;
	for (size_t i = 0; i < u->nper_user; i++)
		users[u->per_user[i].user].value += u->per_user[i].seat_us / 3600e6;
	qsort(users, u->nusers, sizeof *users, most_first);
	size_t shown = 0;
	while (shown < u->nusers && shown < SHOWN_USERS && users[shown].value > 0)
		shown++;
	double top, step = lm_chart_nice_range(shown ? users[0].value : 1, &top);
	fr.x1 = top;
	lm_chart_value_axis_x(&fr, step, "seat-hours");
	if (!shown)
		lm_chart_note(&fr, "no seats held in range");
	double slot = (fr.bottom - fr.top) / SHOWN_USERS, bar = slot * 0.7;
	for (size_t r = 0; r < shown; r++) {
		uint32_t user = users[r].index;
		double y = fr.top + slot * (double)r + (slot - bar) / 2, base = 0;
		/* The parts in the legend's order, the unnamed features last. */
		for (size_t k = 0; k <= shown_features; k++) {
			double part = 0;
			for (size_t i = 0; i < u->nper_user; i++) {
				const struct lm_usage_user *p = &u->per_user[i];
				size_t c = colour_of[p->feature];
				if (p->user == user &&
				    (k < shown_features ? c == k : c == SIZE_MAX))
					part += p->seat_us / 3600e6;
			}
			if (part <= 0)
				continue;
			if (k < shown_features)
				lm_chart_colour(cr, k, 1);
			else
				cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
			double x0 = lm_chart_x(&fr, base), x1 = lm_chart_x(&fr, base + part);
			cairo_rectangle(cr, x0, y, fmax(x1 - x0, 1), bar);
			cairo_fill(cr);
			base += part;
		}
		char name[64], value[32];
		const char *full = lm_usage_user_name(u, user);
		size_t len = strlen(full);
		if (len > 18) {
			len = 16;
			while (len > 0 && ((unsigned char)full[len] & 0xc0) == 0x80)
				len--;
			snprintf(name, sizeof name, "%.*s\xe2\x80\xa6", (int)len, full);
		} else {
			snprintf(name, sizeof name, "%s", full);
		}
		cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
		lm_chart_text(cr, fr.left - 6, y + bar / 2, 1, 11, name);
		snprintf(value, sizeof value, users[r].value < 10 ? "%.2g" : "%.0f",
		         users[r].value);
		lm_chart_text(cr, lm_chart_x(&fr, users[r].value) + 4, y + bar / 2, 0, 10, value);
	}
	for (size_t k = 0; k < shown_features; k++) {
		lm_chart_colour(cr, k, 1);
		lm_chart_legend(&fr, LM_SWATCH_BOX, u->features[order[k].index].name);
	}
	more_in_legend(&fr, u->nfeatures - shown_features, "features");
	free(users);
	free(order);
	free(colour_of);
	return 0;
}

/* Bytes a cairo surface writes, gathered in memory. */
struct sink {
	char *data;
	size_t len, cap;
	bool oom;
};

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int length)
{
	struct sink *s = closure;
	if (s->len + length > s->cap) {
		size_t cap = s->cap ? s->cap : 16384;
		while (cap < s->len + length)
			cap *= 2;
		char *p = realloc(s->data, cap);
		if (!p) {
			s->oom = true;
			return CAIRO_STATUS_NO_MEMORY;
		}
		s->data = p;
		s->cap = cap;
	}
	memcpy(s->data + s->len, data, length);
	s->len += length;
	return CAIRO_STATUS_SUCCESS;
}

static int draw(const struct lm_usage *u, enum lm_chart_kind kind, cairo_t *cr)
{
	switch (kind) {
	case LM_CHART_DENIALS: return draw_denials(u, cr);
	case LM_CHART_USERS: return draw_users(u, cr);
	default: return draw_use(u, cr);
	}
}

/* cairo draws text as glyph outlines in SVG: the chart's words and figures
 * are written beside them as the <title> and <desc> that screen readers,
 * search and tests read. */
static int svg_describe(const struct lm_usage *u, enum lm_chart_kind kind, struct sink *s)
{
	static const char *titles[] = {"Seats in use", "Denials per day", "Top users"};
	char *open = s->data ? memmem(s->data, s->len, "<svg", 4) : NULL;
	char *end = open ? memchr(open, '>', s->len - (size_t)(open - s->data)) : NULL;
	if (!end)
		return -1;
	size_t at = (size_t)(end + 1 - s->data);
	struct sink d = {0};
	FILE *f = open_memstream(&d.data, &d.len);
	if (!f)
		return -1;
	fprintf(f, "\n<title>%s</title>\n<desc>", titles[kind]);
	for (size_t i = 0; i < u->nfeatures; i++) {
		fputs(i ? "; " : "", f);
		/* Names in XML text: the markup characters escaped. */
		for (const char *c = u->features[i].name; *c; c++)
			switch (*c) {
			case '<': fputs("&lt;", f); break;
			case '>': fputs("&gt;", f); break;
			case '&': fputs("&amp;", f); break;
			default: fputc(*c, f);
			}
		fprintf(f, ": %u licensed", u->features[i].issued);
	}
	fputs("</desc>", f);
	if (fclose(f) != 0) {
		free(d.data);
		return -1;
	}
	char *p = realloc(s->data, s->len + d.len);
	if (!p) {
		free(d.data);
		return -1;
	}
	memmove(p + at + d.len, p + at, s->len - at);
	memcpy(p + at, d.data, d.len);
	s->data = p;
	s->len += d.len;
	s->cap = s->len;
	free(d.data);
	return 0;
}

int lm_chart_draw(const struct lm_usage *u, enum lm_chart_kind kind, enum lm_chart_type type,
                  char **out, size_t *len, char *why, size_t why_size)
{
	struct sink s = {0};
	cairo_surface_t *surface =
	        type == LM_CHART_SVG ? cairo_svg_surface_create_for_stream(
	                                       sink_write, &s, LM_CHART_WIDTH, LM_CHART_HEIGHT)
	                             : cairo_image_surface_create(CAIRO_FORMAT_RGB24,
	                                                          LM_CHART_WIDTH, LM_CHART_HEIGHT);
	cairo_t *cr = cairo_create(surface);
	int rc = draw(u, kind, cr);
	cairo_status_t status = cairo_status(cr);
	cairo_destroy(cr);
	if (rc == 0 && status == CAIRO_STATUS_SUCCESS && type == LM_CHART_PNG)
		status = cairo_surface_write_to_png_stream(surface, sink_write, &s);
	cairo_surface_finish(surface);
	if (status == CAIRO_STATUS_SUCCESS)
		status = cairo_surface_status(surface);
	cairo_surface_destroy(surface);
	if (rc == 0 && status == CAIRO_STATUS_SUCCESS && !s.oom && type == LM_CHART_SVG)
		rc = svg_describe(u, kind, &s);
	if (rc != 0 || status != CAIRO_STATUS_SUCCESS || s.oom) {
		snprintf(why, why_size, "cannot draw the chart: %s",
		         status != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(status)
		                                        : "out of memory");
		free(s.data);
		return -1;
	}
	*out = s.data;
	*len = s.len;
	return 0;
}

void lm_chart_release(void)
{
	cairo_debug_reset_static_data();
	FcFini();
}
