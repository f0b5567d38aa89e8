/* The report log's file (report_log.h): opening it and reading its last
 * record, writing the records of a command, rotating, and surviving
 * failures.  The records themselves are built in report_record.c. */
#include "config.h"

#include "lmd/report_log_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/date.h"
#include "core/error.h"
#include "core/log.h"

/* How much of a file's end is read to find its last record: records are
 * far shorter (the longest, "license", names a few hashes). */
#define TAIL_MAX (1024 * 1024)

/* Pending records past this size are written at once. */
#define PENDING_MAX (64 * 1024)

/* The digits of a rotated file's suffix: PATH.000000000042. */
#define ROTATED_DIGITS 12

/* Counts a failure, and logs it if the log was not already failing: one
 * line when writing stops working, one when it works again. */
static void failed(struct lm_report_log *r, const char *what)
{
	r->errors++;
	if (!r->failing)
		lm_log_error("report log %s: %s: %s; lmd keeps serving and retries at the next "
		             "command",
		             r->path, what, strerror(errno));
	r->failing = true;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int64_t day_of(int64_t time_us)
{
	const int64_t day_us = INT64_C(86400000000);
	return time_us / day_us - (time_us % day_us < 0);
}

/* The UTC day of a record's "time" ("YYYY-MM-DDT..."), or INT64_MIN. */
static int64_t record_day(const char *line, size_t len)
{
	static const char key[] = "\"time\":\"";
	const char *at = memmem(line, len, key, sizeof key - 1);
	int y, m, d, n = 0;
	if (!at || (size_t)(line + len - at) < sizeof key + 10)
		return INT64_MIN;
	char date[11];
	memcpy(date, at + sizeof key - 1, 10);
	date[10] = '\0';
	if (sscanf(date, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
		return INT64_MIN;
	return lm_date_from_ymd(y, m, d);
}

/* Takes the last whole line of the size bytes of fd as the last record:
 * continues the chain from it.  A last line without its newline is cut off
 * when cut is set (the live file), and ignored otherwise.  Returns 0 or -1
 * with errno set. */
static int read_last_record(struct lm_report_log *r, int fd, uint64_t size, bool cut)
{
	size_t chunk = size < TAIL_MAX ? (size_t)size : TAIL_MAX;
	char *buf = malloc(chunk + 1);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	ssize_t n = pread(fd, buf, chunk, (off_t)(size - chunk));
	if (n != (ssize_t)chunk) {
		free(buf);
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	size_t end = chunk; /* just after the last newline */
	while (end > 0 && buf[end - 1] != '\n')
		end--;
	if (end != chunk && (end > 0 || chunk == size)) {
		uint64_t whole = size - chunk + end;
		lm_log_warning("report log %s: its last %llu bytes are a record cut short (a crash "
		               "while writing?)%s",
		               r->path, (unsigned long long)(size - whole), cut ? ": cut off" : "");
		if (cut && ftruncate(fd, (off_t)whole) != 0) {
			free(buf);
			return -1;
		}
		size = whole;
	}
	r->size = size;
	if (end == 0) {
		free(buf);
		if (size == 0)
			return 0;
		errno = EFBIG; /* a line longer than TAIL_MAX is none of ours */
		return -1;
	}
	size_t start = end - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && size > chunk) {
		free(buf);
		errno = EFBIG;
		return -1;
	}
	const char *line = buf + start;
	size_t len = end - 1 - start;
	lm_report_chain_hash(line, len, r->chain);
	r->last_day = record_day(line, len);
	if (!lm_report_chain_head(line, len, &r->seq, &r->index)) {
		/* Someone edited it; `lmutil report --verify` will say where.  The
		 * chain goes on from its bytes so that nothing after it hides the
		 * edit, and its index is taken as the last (nothing is skipped). */
		lm_log_error("report log %s: its last line is not one of lmd's records; the log "
		             "continues after it",
		             r->path);
		r->seq = r->index = 0;
	}
	free(buf);
	return 0;
}

/* The first record's seq of a non-empty live file, for its rotated name. */
static void read_first_seq(struct lm_report_log *r)
{
	char head[64];
	uint64_t index;
	ssize_t n = pread(r->fd, head, sizeof head, 0);
	if (n <= 0 || !lm_report_chain_head(head, (size_t)n, &r->first_seq, &index))
		r->first_seq = r->seq; /* unknown: name the file after its last */
}

/* PATH.<digits> with the largest number, the newest rotated file, if any:
 * an empty live file continues its chain. */
static int read_newest_rotated(struct lm_report_log *r)
{
	char dir[4096], best[4096] = "";
	const char *slash = strrchr(r->path, '/');
	const char *base = slash ? slash + 1 : r->path;
	size_t blen = strlen(base);
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - r->path) : 1,
	         slash ? r->path : ".");
	if (slash == r->path)
		snprintf(dir, sizeof dir, "/");
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));) {
		const char *name = e->d_name;
		if (strncmp(name, base, blen) != 0 || name[blen] != '.' ||
		    strlen(name + blen + 1) != ROTATED_DIGITS ||
		    strspn(name + blen + 1, "0123456789") != ROTATED_DIGITS)
			continue;
		if (strcmp(name, best) > 0)
			snprintf(best, sizeof best, "%s", name);
	}
	closedir(d);
	if (!best[0])
		return 0;
	char path[8192];
	snprintf(path, sizeof path, "%s/%s", dir, best);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return -1;
	int rc = fstat(fd, &st) == 0 ? read_last_record(r, fd, (uint64_t)st.st_size, false) : -1;
	close(fd);
	r->size = 0;
	return rc;
}

/* Opens the live file and reads where the chain stands. */
static int recover(struct lm_report_log *r)
{
	struct stat st;
	r->fd = open(r->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (r->fd < 0)
		return -1;
	if (fstat(r->fd, &st) != 0)
		goto fail;
	snprintf(r->chain, sizeof r->chain, "%s", LM_REPORT_CHAIN_ANCHOR);
	r->seq = r->index = r->first_seq = 0;
	r->last_day = INT64_MIN;
	if (st.st_size == 0) {
		r->size = 0;
		if (read_newest_rotated(r) != 0)
			goto fail;
		r->last_day = INT64_MIN; /* that file's day; this one is empty */
	} else {
		if (read_last_record(r, r->fd, (uint64_t)st.st_size, true) != 0)
			goto fail;
		read_first_seq(r);
	}
	r->recovered = true;
	r->dirty = false;
	r->written_seq = r->seq;
	r->written_index = r->index;
	memcpy(r->written_chain, r->chain, sizeof r->chain);
	lm_log("report-log", "%s: %llu records, the last of command %llu", r->path,
	       (unsigned long long)r->seq, (unsigned long long)r->index);
	return 0;
fail:
	close(r->fd);
	r->fd = -1;
	return -1;
}

int lm_report_log_open(struct lm_report_log **out, const struct lm_report_log_config *cfg)
{
	struct lm_report_log *r = calloc(1, sizeof *r);
	if (!r || !(r->path = strdup(cfg->path))) {
		free(r);
		return LMC_ENOMEM;
	}
	r->max_bytes = cfg->max_bytes;
	r->daily = cfg->daily;
	r->last_day = INT64_MIN;
	r->fd = -1;
	if (recover(r) != 0)
		failed(r, "cannot open it");
	*out = r;
	return 0;
}

void lm_report_log_close(struct lm_report_log *r)
{
	if (!r)
		return;
	lm_report_log_flush(r);
	if (r->fd >= 0)
		close(r->fd);
	lm_text_free(&r->bodies);
	lm_text_free(&r->out);
	lm_text_free(&r->pending);
	free(r->recs);
	free(r->path);
	free(r);
}

bool lm_report_log_wants(const struct lm_report_log *r, uint64_t index)
{
	return !r->recovered || index > r->index;
}

uint64_t lm_report_log_errors(const struct lm_report_log *r)
{
	return r->errors;
}

uint64_t lm_report_log_last_index(const struct lm_report_log *r)
{
	return r->index;
}

void lm_report_log_skip_to(struct lm_report_log *r, uint64_t index)
{
	if (!r->recovered || index <= r->index || index <= r->gap_to)
		return;
	if (r->gap_from == 0)
		r->gap_from = r->index + 1;
	r->gap_to = index;
}

/* Appends one framed line to out: head, body, prev link; moves the chain. */
static void frame(struct lm_report_log *r, const char *body, size_t len, uint64_t index,
                  uint64_t *seq, char chain[LM_REPORT_CHAIN_HEX + 1])
{
	size_t start = r->out.len;
	lm_text_printf(&r->out, "{\"seq\":%llu,\"index\":%llu,", (unsigned long long)++*seq,
	               (unsigned long long)index);
	lm_text_add(&r->out, body, len);
	lm_text_printf(&r->out, ",\"prev\":\"%s\"}", chain);
	if (!r->out.oom)
		lm_report_chain_hash(r->out.data + start, r->out.len - start, chain);
	lm_text_add(&r->out, "\n", 1);
}

/* Renames the live file after its first record and starts a new one. */
static int rotate(struct lm_report_log *r)
{
	char to[8192];
	snprintf(to, sizeof to, "%s.%0*llu", r->path, ROTATED_DIGITS,
	         (unsigned long long)r->first_seq);
	if (rename(r->path, to) != 0)
		return -1;
	close(r->fd);
	r->size = 0;
	r->first_seq = 0;
	r->last_day = INT64_MIN;
	r->fd = open(r->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (r->fd < 0) {
		r->recovered = false; /* opened and read again at the next command */
		return -1;
	}
	lm_log("report-log", "%s rotated to %s", r->path, to);
	return 0;
}

/* Commands from..to are not logged: remembered for "lost". */
static void lose_range(struct lm_report_log *r, uint64_t from, uint64_t to)
{
	if (r->lost_from == 0 || from < r->lost_from)
		r->lost_from = from;
	if (to > r->lost_to)
		r->lost_to = to;
}

/* The commands of this commit are not logged. */
static void lose(struct lm_report_log *r)
{
	for (size_t i = 0; i < r->nrecs; i++)
		if (r->recs[i].index > r->index)
			lose_range(r, r->recs[i].index, r->recs[i].index);
}

/* Widens the range [*from, *to] of commands (0: empty) to [a, b]. */
static void cover(uint64_t *from, uint64_t *to, uint64_t a, uint64_t b)
{
	if (*from == 0 || a < *from)
		*from = a;
	if (b > *to)
		*to = b;
}

/* Returns 0, or -1 when the pending records could not be written (and are
 * now "lost"). */
static int flush(struct lm_report_log *r)
{
	if (r->pending.len == 0)
		return 0;
	int rc = 0;
	if (r->fd < 0 || write_all(r->fd, r->pending.data, r->pending.len) != 0) {
		/* Back to the chain on disk; the next record written says
		 * what is missing. */
		r->dirty = r->fd >= 0;
		if (r->fd < 0)
			errno = EBADF;
		failed(r, "cannot write to it");
		lose_range(r, r->pending_from, r->pending_to);
		rc = -1;
		r->seq = r->written_seq;
		r->index = r->written_index;
		memcpy(r->chain, r->written_chain, sizeof r->chain);
	} else {
		r->size += r->pending.len;
		if (r->first_seq == 0)
			r->first_seq = r->pending_first_seq;
		r->written_seq = r->seq;
		r->written_index = r->index;
		memcpy(r->written_chain, r->chain, sizeof r->chain);
		if (r->failing)
			lm_log("report-log", "%s: writing again (%llu failures so far)", r->path,
			       (unsigned long long)r->errors);
		r->failing = false;
	}
	r->pending.len = 0;
	r->pending.oom = false;
	r->pending_from = r->pending_to = r->pending_first_seq = 0;
	return rc;
}

void lm_report_log_flush(struct lm_report_log *r)
{
	flush(r);
}

static void clear_batch(struct lm_report_log *r)
{
	r->bodies.len = 0;
	r->bodies.oom = false;
	r->out.len = 0;
	r->out.oom = false;
	r->nrecs = 0;
	r->recs_failed = false;
}

/* A record of the log's own: commands from..to that it does not hold. */
static void frame_missing(struct lm_report_log *r, const char *event, uint64_t from, uint64_t to,
                          uint64_t *seq, char chain[LM_REPORT_CHAIN_HEX + 1])
{
	struct lm_text b = {0};
	lm_text_add(&b, "\"time\":", 7);
	lm_report_json_time(&b, r->recs[0].time_us);
	lm_text_printf(&b, ",\"event\":\"%s\",\"from_index\":%llu,\"to_index\":%llu", event,
	               (unsigned long long)from, (unsigned long long)to);
	if (b.oom)
		r->out.oom = true;
	else
		frame(r, b.data, b.len, to, seq, chain);
	lm_text_free(&b);
}

/* Frames the records of the batch after the index already logged, after
 * a "gap" or a "lost" record when commands went unlogged.  Returns the
 * first seq framed (0: none). */
static uint64_t frame_batch(struct lm_report_log *r, uint64_t *seq,
                            char chain[LM_REPORT_CHAIN_HEX + 1], uint64_t *index, uint64_t *from,
                            uint64_t *to)
{
	uint64_t first = 0;
	if (r->gap_from != 0) {
		frame_missing(r, "gap", r->gap_from, r->gap_to, seq, chain);
		first = *seq;
		*index = r->gap_to;
		cover(from, to, r->gap_from, r->gap_to);
	}
	if (r->lost_from != 0) {
		frame_missing(r, "lost", r->lost_from, r->lost_to, seq, chain);
		first = first ? first : *seq;
		*index = r->lost_to > *index ? r->lost_to : *index;
		cover(from, to, r->lost_from, r->lost_to);
	}
	for (size_t i = 0; i < r->nrecs; i++) {
		const struct lm_report_body *b = &r->recs[i];
		if (b->index <= r->index)
			continue;
		frame(r, r->bodies.data + b->off, b->len, b->index, seq, chain);
		*index = b->index;
		cover(from, to, b->index, b->index);
		if (!first)
			first = *seq;
	}
	return first;
}

void lm_report_log_commit(struct lm_report_log *r)
{
	if (r->nrecs == 0)
		return;
	r->recs[r->nrecs - 1].len = r->bodies.len - r->recs[r->nrecs - 1].off;
	if (r->bodies.oom || r->recs_failed) {
		errno = ENOMEM;
		failed(r, "no memory for a record");
		goto lost;
	}
	if (r->fd < 0 || !r->recovered) {
		if (r->fd >= 0)
			close(r->fd);
		if (recover(r) != 0) {
			failed(r, "cannot open it");
			goto lost;
		}
	}
	if (r->dirty) {
		if (ftruncate(r->fd, (off_t)r->size) != 0) {
			failed(r, "cannot cut off a record written in part");
			goto lost;
		}
		r->dirty = false;
	}
	uint64_t seq = r->seq, index = r->index, from = 0, to = 0;
	char chain[LM_REPORT_CHAIN_HEX + 1];
	memcpy(chain, r->chain, sizeof chain);
	uint64_t first = frame_batch(r, &seq, chain, &index, &from, &to);
	if (first == 0 && !r->out.oom)
		goto done; /* all logged before a restart */
	/* A file this batch would take past max_bytes, or into another day
	 * than its last record's, is rotated first, with the records pending
	 * for it written to it. */
	bool past_size = r->max_bytes && r->size + r->pending.len + r->out.len > r->max_bytes;
	bool new_day =
	        r->daily && r->last_day != INT64_MIN && day_of(r->recs[0].time_us) != r->last_day;
	if (!r->out.oom && r->size + r->pending.len > 0 && (past_size || new_day)) {
		if (flush(r) != 0)
			goto lost;
		if (rotate(r) != 0) {
			failed(r, "cannot rotate it");
			if (r->fd < 0)
				goto lost;
		}
	}
	if (r->pending.len == 0)
		r->pending_first_seq = first;
	if (!r->out.oom)
		lm_text_add(&r->pending, r->out.data, r->out.len);
	if (r->out.oom || r->pending.oom) {
		/* What is pending cannot be trusted whole: all of it is lost,
		 * and the chain goes back to the file's. */
		errno = ENOMEM;
		failed(r, "no memory for a record");
		if (r->pending_from)
			lose_range(r, r->pending_from, r->pending_to);
		if (from)
			lose_range(r, from, to);
		r->pending.len = 0;
		r->pending.oom = false;
		r->pending_from = r->pending_to = r->pending_first_seq = 0;
		r->seq = r->written_seq;
		r->index = r->written_index;
		memcpy(r->chain, r->written_chain, sizeof r->chain);
		goto done;
	}
	cover(&r->pending_from, &r->pending_to, from, to);
	r->last_day = day_of(r->recs[r->nrecs - 1].time_us);
	r->seq = seq;
	r->index = index;
	memcpy(r->chain, chain, sizeof chain);
	r->lost_from = r->lost_to = 0;
	r->gap_from = r->gap_to = 0;
	if (r->pending.len >= PENDING_MAX)
		flush(r);
	goto done;
lost:
	lose(r);
done:
	clear_batch(r);
}
