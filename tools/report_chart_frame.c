/* What every chart of lmutil report has (report_chart_internal.h): title,
 * plot area, axes, legend. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tools/lmutil_report.h"
#include "tools/report_chart_internal.h"

#define TITLE_SIZE 15.0
#define LABEL_SIZE 11.0
#define LEGEND_W   190.0
#define MARGIN_TOP 48.0
#define MARGIN_LOW 48.0
#define LEGEND_ROW 18.0

/* Tableau's ten colours minus the two closest to the denial chart's
 * meanings: distinct for the colour-blind too, and readable on white.  As
 * 8-bit values, which cairo gives back exactly in a PNG. */
static const uint32_t palette[LM_CHART_PALETTE] = {
        0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x17becf,
};

void lm_chart_rgb(cairo_t *cr, uint32_t rgb, double alpha)
{
	cairo_set_source_rgba(cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0,
	                      (rgb & 255) / 255.0, alpha);
}

void lm_chart_colour(cairo_t *cr, size_t series, double alpha)
{
	lm_chart_rgb(cr, palette[series % LM_CHART_PALETTE], alpha);
}

void lm_chart_text(cairo_t *cr, double x, double y, double align, double size, const char *text)
{
	cairo_text_extents_t ext;
	cairo_set_font_size(cr, size);
	cairo_text_extents(cr, text, &ext);
	cairo_move_to(cr, x - align * ext.x_advance, y + size * 0.35);
	cairo_show_text(cr, text);
}

void lm_chart_begin(struct lm_chart_frame *fr, cairo_t *cr, const char *title, const char *subtitle,
                    double margin_left)
{
	*fr = (struct lm_chart_frame){
	        .cr = cr,
	        .left = margin_left,
	        .top = MARGIN_TOP,
	        .right = LM_CHART_WIDTH - LEGEND_W,
	        .bottom = LM_CHART_HEIGHT - MARGIN_LOW,
	        .x1 = 1,
	        .y1 = 1,
	};
	cairo_set_source_rgb(cr, 1, 1, 1);
	cairo_paint(cr);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
	cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
	lm_chart_text(cr, 16, 18, 0, TITLE_SIZE, title);
	cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
	lm_chart_text(cr, 16, 36, 0, LABEL_SIZE, subtitle);
}

double lm_chart_x(const struct lm_chart_frame *fr, double x)
{
	return fr->left + (x - fr->x0) / (fr->x1 - fr->x0) * (fr->right - fr->left);
}

double lm_chart_y(const struct lm_chart_frame *fr, double y)
{
	return fr->bottom - (y - fr->y0) / (fr->y1 - fr->y0) * (fr->bottom - fr->top);
}

double lm_chart_nice_range(double max, double *top)
{
	if (!(max > 0))
		max = 1;
	/* About five ticks: the step is the power of ten under max/5 times
	 * 1, 2 or 5. */
	double raw = max / 5, p = pow(10, floor(log10(raw))), step = p;
	if (raw > 5 * p)
		step = 10 * p;
	else if (raw > 2 * p)
		step = 5 * p;
	else if (raw > p)
		step = 2 * p;
	if (step < 1 && max >= 1)
		step = 1;
	*top = ceil(max / step) * step;
	return step;
}

static void format_value(double v, char *buf, size_t size)
{
	if (fabs(v - round(v)) < 1e-9)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, "%g", v);
}

static void grid_colour(cairo_t *cr)
{
	cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
	cairo_set_line_width(cr, 1);
}

static void axis_colour(cairo_t *cr)
{
	cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
	cairo_set_line_width(cr, 1);
}

static void plot_border(struct lm_chart_frame *fr)
{
	cairo_t *cr = fr->cr;
	axis_colour(cr);
	cairo_move_to(cr, fr->left + 0.5, fr->top);
	cairo_line_to(cr, fr->left + 0.5, fr->bottom + 0.5);
	cairo_line_to(cr, fr->right, fr->bottom + 0.5);
	cairo_stroke(cr);
}

void lm_chart_value_axis_y(struct lm_chart_frame *fr, double step, const char *name)
{
	cairo_t *cr = fr->cr;
	char label[32];
	for (double v = fr->y0; v <= fr->y1 + step / 1000; v += step) {
		double y = round(lm_chart_y(fr, v)) + 0.5;
		grid_colour(cr);
		cairo_move_to(cr, fr->left, y);
		cairo_line_to(cr, fr->right, y);
		cairo_stroke(cr);
		format_value(v, label, sizeof label);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		lm_chart_text(cr, fr->left - 6, y, 1, LABEL_SIZE, label);
	}
	plot_border(fr);
	cairo_save(cr);
	cairo_translate(cr, 14, (fr->top + fr->bottom) / 2);
	cairo_rotate(cr, -M_PI / 2);
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	lm_chart_text(cr, 0, 0, 0.5, LABEL_SIZE, name);
	cairo_restore(cr);
}

void lm_chart_value_axis_x(struct lm_chart_frame *fr, double step, const char *name)
{
	cairo_t *cr = fr->cr;
	char label[32];
	for (double v = fr->x0; v <= fr->x1 + step / 1000; v += step) {
		double x = round(lm_chart_x(fr, v)) + 0.5;
		grid_colour(cr);
		cairo_move_to(cr, x, fr->top);
		cairo_line_to(cr, x, fr->bottom);
		cairo_stroke(cr);
		format_value(v, label, sizeof label);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		lm_chart_text(cr, x, fr->bottom + 14, 0.5, LABEL_SIZE, label);
	}
	plot_border(fr);
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	lm_chart_text(cr, (fr->left + fr->right) / 2, fr->bottom + 34, 0.5, LABEL_SIZE, name);
}

#define MINUTE_US INT64_C(60000000)
#define DAY_US    (1440 * MINUTE_US)

void lm_chart_time_axis(struct lm_chart_frame *fr, int64_t min_step_us)
{
	/* Steps a reader counts in; months are 30 days apart, close enough
	 * for ticks that are labelled with their date. */
	static const int64_t steps[] = {
	        MINUTE_US,      5 * MINUTE_US,   15 * MINUTE_US,  30 * MINUTE_US,
	        60 * MINUTE_US, 180 * MINUTE_US, 360 * MINUTE_US, 720 * MINUTE_US,
	        DAY_US,         2 * DAY_US,      7 * DAY_US,      14 * DAY_US,
	        30 * DAY_US,    91 * DAY_US,     182 * DAY_US,    365 * DAY_US};
	cairo_t *cr = fr->cr;
	double span = fr->x1 - fr->x0;
	int64_t step = steps[sizeof steps / sizeof *steps - 1];
	for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
		if (steps[i] >= min_step_us && span / (double)steps[i] <= 7) {
			step = steps[i];
			break;
		}
	int64_t first = (int64_t)ceil(fr->x0 / (double)step) * step;
	for (int64_t t = first; (double)t <= fr->x1; t += step) {
		double x = round(lm_chart_x(fr, (double)t)) + 0.5;
		grid_colour(cr);
		cairo_move_to(cr, x, fr->top);
		cairo_line_to(cr, x, fr->bottom);
		cairo_stroke(cr);
		time_t secs = (time_t)(t / 1000000);
		struct tm tm;
		char label[32] = "?";
		if (gmtime_r(&secs, &tm))
			strftime(label, sizeof label, step % DAY_US ? "%m-%d %H:%M" : "%Y-%m-%d",
			         &tm);
		cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
		lm_chart_text(cr, x, fr->bottom + 14, 0.5, LABEL_SIZE, label);
	}
	plot_border(fr);
	cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
	lm_chart_text(cr, (fr->left + fr->right) / 2, fr->bottom + 34, 0.5, LABEL_SIZE,
	              "time (UTC)");
}

void lm_chart_legend(struct lm_chart_frame *fr, enum lm_chart_swatch swatch, const char *label)
{
	cairo_t *cr = fr->cr;
	double x = fr->right + 16, y = fr->top + LEGEND_ROW * fr->legend_rows++ + 6;
	cairo_save(cr);
	cairo_set_line_width(cr, 2.5);
	if (swatch == LM_SWATCH_BOX) {
		cairo_rectangle(cr, x, y - 5, 18, 10);
		cairo_fill(cr);
	} else {
		if (swatch == LM_SWATCH_DASH) {
			static const double dash[] = {6, 4};
			cairo_set_dash(cr, dash, 2, 0);
		}
		cairo_move_to(cr, x, y);
		cairo_line_to(cr, x + 18, y);
		cairo_stroke(cr);
	}
	cairo_restore(cr);
	/* A long name is cut to the legend's width, with an ellipsis. */
	char text[64];
	size_t len = strlen(label);
	if (len > 24) {
		len = 22;
		while (len > 0 && ((unsigned char)label[len] & 0xc0) == 0x80)
			len--; /* not inside a UTF-8 sequence: cairo refuses those */
		snprintf(text, sizeof text, "%.*s\xe2\x80\xa6", (int)len, label);
	} else {
		snprintf(text, sizeof text, "%s", label);
	}
	cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
	lm_chart_text(cr, x + 24, y, 0, LABEL_SIZE, text);
}

void lm_chart_note(struct lm_chart_frame *fr, const char *text)
{
	cairo_set_source_rgb(fr->cr, 0.4, 0.4, 0.4);
	lm_chart_text(fr->cr, (fr->left + fr->right) / 2, (fr->top + fr->bottom) / 2, 0.5, 13,
	              text);
}
