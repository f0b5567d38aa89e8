/* The drawing under lmutil report's charts (lmutil_report.h):
 *
 *   report_chart.c        the three charts, from the summary's trace, and
 *                         their output as PNG or SVG bytes
 *   report_chart_frame.c  what every chart has: the title, the plot area,
 *                         axes with their ticks and labels, a legend
 *
 * Every chart is LM_CHART_WIDTH x LM_CHART_HEIGHT user units, drawn with
 * cairo's own text (the "sans-serif" face fontconfig finds), so a PNG and
 * an SVG of the same summary look the same. */
#ifndef LM_REPORT_CHART_INTERNAL_H
#define LM_REPORT_CHART_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cairo.h>

/* The plot area inside the margins, and the ranges its edges stand for. */
struct lm_chart_frame {
	cairo_t *cr;
	double left, top, right, bottom; /* pixels */
	double x0, x1;                   /* the x range: microseconds, or values */
	double y0, y1;                   /* the y range */
	int legend_rows;
};

#define LM_CHART_PALETTE 8
/* A series' colour, by its number (wrapping past the palette). */
void lm_chart_colour(cairo_t *cr, size_t series, double alpha);
/* 0xRRGGBB as the source. */
void lm_chart_rgb(cairo_t *cr, uint32_t rgb, double alpha);

/* Clears the page white, writes the title (and a smaller subtitle) at the
 * top, and sets the plot area: margin_left wide enough for the y labels,
 * room for the legend on the right. */
void lm_chart_begin(struct lm_chart_frame *fr, cairo_t *cr, const char *title, const char *subtitle,
                    double margin_left);

/* Pixel positions of values. */
double lm_chart_x(const struct lm_chart_frame *fr, double x);
double lm_chart_y(const struct lm_chart_frame *fr, double y);

/* A range from 0 to at least max, rounded up to a tick of 1, 2 or 5 x
 * 10^k; returns that tick. */
double lm_chart_nice_range(double max, double *top);

/* The y axis from fr->y0 to fr->y1, a grid line and a label every step,
 * and the axis' name written upwards. */
void lm_chart_value_axis_y(struct lm_chart_frame *fr, double step, const char *name);
/* The same along x, for horizontal bars. */
void lm_chart_value_axis_x(struct lm_chart_frame *fr, double step, const char *name);
/* The x axis as UTC time from fr->x0 to fr->x1 (microseconds): ticks on
 * round minutes, hours or days, at least min_step_us apart, labelled with
 * dates ("11-30 14:00", or "2026-11-30" for whole days). */
void lm_chart_time_axis(struct lm_chart_frame *fr, int64_t min_step_us);

/* One legend entry on the right: a swatch drawn in the current source
 * (solid, dashed or a box) and its label. */
enum lm_chart_swatch { LM_SWATCH_LINE, LM_SWATCH_DASH, LM_SWATCH_BOX };
void lm_chart_legend(struct lm_chart_frame *fr, enum lm_chart_swatch swatch, const char *label);

/* A line of text centred in the plot area (a chart with nothing to draw). */
void lm_chart_note(struct lm_chart_frame *fr, const char *text);

/* Text in the chart's face and size, its left end at x (align 0), its
 * centre (0.5) or its right end (1), its middle at y. */
void lm_chart_text(cairo_t *cr, double x, double y, double align, double size, const char *text);

#endif
