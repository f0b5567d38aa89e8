/* The one logger (core/log.h): lines go to the sink at their level, the
 * level drops the less severe ones, the default sink writes lmd's line (or
 * the journal's, when stderr is the stream JOURNAL_STREAM names), and
 * lm_fatal logs and exits with status 1. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/log.h"

struct line {
	enum lm_log_level level;
	char event[32];
	char message[256];
};

struct sink {
	unsigned n;
	struct line lines[8];
};

static void capture(void *arg, enum lm_log_level level, const char *event, const char *message)
{
	struct sink *s = arg;
	assert_true(s->n < 8);
	struct line *l = &s->lines[s->n++];
	l->level = level;
	snprintf(l->event, sizeof l->event, "%s", event);
	snprintf(l->message, sizeof l->message, "%s", message);
}

static void expect_line(const struct line *l, enum lm_log_level level, const char *event,
                        const char *message)
{
	assert_int_equal(l->level, level);
	assert_string_equal(l->event, event);
	assert_string_equal(l->message, message);
}

static int reset(void **state)
{
	(void)state;
	lm_log_set_sink(NULL, NULL);
	lm_log_set_level(LM_LOG_INFO);
	lm_log_set_node(0);
	lm_log_set_format(LM_LOG_PLAIN);
	return 0;
}

/* Each call names its level and event; a sink sees exactly that. */
static void test_levels_and_events(void **state)
{
	struct sink s = {0};

	(void)state;
	lm_log_set_sink(capture, &s);
	lm_log("checkout", "user=%s count=%d", "alice", 2);
	lm_log_error("cannot write %s", "/data");
	lm_log_warning("slow disk: %d ms", 40);
	lm_log_at(LM_LOG_INFO, "stop", "stopped");
	assert_int_equal(s.n, 4);
	expect_line(&s.lines[0], LM_LOG_INFO, "checkout", "user=alice count=2");
	expect_line(&s.lines[1], LM_LOG_ERROR, "error", "cannot write /data");
	expect_line(&s.lines[2], LM_LOG_WARNING, "warning", "slow disk: 40 ms");
	expect_line(&s.lines[3], LM_LOG_INFO, "stop", "stopped");
}

/* Debug lines are dropped unless asked for; errors are never dropped. */
static void test_level_filters(void **state)
{
	struct sink s = {0};

	(void)state;
	lm_log_set_sink(capture, &s);
	assert_false(lm_log_enabled(LM_LOG_DEBUG));
	lm_log_debug("raft", "term %d", 3);
	assert_int_equal(s.n, 0);

	lm_log_set_level(LM_LOG_DEBUG);
	assert_true(lm_log_enabled(LM_LOG_DEBUG));
	lm_log_debug("raft", "term %d", 3);
	assert_int_equal(s.n, 1);
	expect_line(&s.lines[0], LM_LOG_DEBUG, "raft", "term 3");

	lm_log_set_level(LM_LOG_ERROR);
	lm_log("checkout", "dropped");
	lm_log_warning("dropped");
	lm_log_error("kept");
	assert_int_equal(s.n, 2);
	expect_line(&s.lines[1], LM_LOG_ERROR, "error", "kept");
}

/* Runs fn in a child whose stderr goes to a pipe; returns what it wrote
 * and its wait status. */
static char *run_child(void (*fn)(void), int *status)
{
	int fds[2];
	static char out[4096];
	size_t len = 0;
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	/* Or the child's exit() writes what cmocka printed a second time. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		fn();
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof out - 1 && (n = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, status, 0), pid);
	return out;
}

static void default_lines(void)
{
	lm_log_set_node(2);
	lm_log("checkout", "user=alice host=ws7 feature=stats");
	lm_log_error("handles still open at exit");
}

static void matches(const char *text, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	int rc = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	if (rc != 0)
		fail_msg("\"%s\" does not match %s", text, pattern);
}

/* The default sink writes lmd's line, which the integration tests grep:
 * UTC time to the millisecond, lmd[node], the event, the message. */
static void test_default_format(void **state)
{
	int status;

	(void)state;
	const char *out = run_child(default_lines, &status);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	matches(out, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	             "lmd\\[2\\] checkout user=alice host=ws7 feature=stats\n"
	             "[0-9T:.-]{23}Z lmd\\[2\\] error handles still open at exit\n$");
}

static void die(void)
{
	lm_log_set_level(LM_LOG_ERROR);
	lm_fatal("the raft log in %s is corrupt", "/data/raft");
}

/* lm_fatal is the one way to die: a "fatal" line, then exit status 1. */
static void test_fatal(void **state)
{
	int status;

	(void)state;
	const char *out = run_child(die, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	matches(out, "Z lmd\\[0\\] fatal the raft log in /data/raft is corrupt\n$");
}

static void journal_lines(void)
{
	lm_log_set_format(LM_LOG_JOURNAL);
	lm_log_set_level(LM_LOG_DEBUG);
	lm_log_set_node(2);
	lm_log("checkout", "user=alice host=ws7 feature=stats");
	lm_log_error("handles still open at exit");
	lm_log_warning("slow disk: %d ms", 40);
	lm_log_debug("raft", "term %d", 3);
	lm_fatal("the raft log in %s is corrupt", "/data/raft");
}

/* For the journal: the sd-daemon(3) priority in front (<3> error, <4>
 * warning, <6> info, <7> debug), no time (the journal stamps each line),
 * and the node spelt out, since the journal shows lmd's pid in brackets. */
static void test_journal_format(void **state)
{
	int status;

	(void)state;
	const char *out = run_child(journal_lines, &status);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_string_equal(out, "<6>node 2 checkout user=alice host=ws7 feature=stats\n"
	                         "<3>node 2 error handles still open at exit\n"
	                         "<4>node 2 warning slow disk: 40 ms\n"
	                         "<7>node 2 raft term 3\n"
	                         "<3>node 2 fatal the raft log in /data/raft is corrupt\n");
}

/* "dev:ino" of the file open on fd, as systemd writes JOURNAL_STREAM. */
static void stream_id(int fd, char *buf, size_t size, long long dev_delta, long long ino_delta)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(buf, size, "%llu:%llu",
	         (unsigned long long)st.st_dev + (unsigned long long)dev_delta,
	         (unsigned long long)st.st_ino + (unsigned long long)ino_delta);
}

static int scratch_file(char *path)
{
	strcpy(path, "/tmp/test_log.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	return fd;
}

/* JOURNAL_STREAM is inherited by whatever a service runs, and stays when
 * stderr is redirected: only the very stream it names is the journal. */
static void test_stream_is_journal(void **state)
{
	char path[32], other_path[32], id[64], other_id[64], text[96];
	int fds[2];

	(void)state;
	int fd = scratch_file(path);
	int other = scratch_file(other_path);
	stream_id(fd, id, sizeof id, 0, 0);
	stream_id(other, other_id, sizeof other_id, 0, 0);

	assert_true(lm_log_stream_is_journal(fd, id));
	assert_true(lm_log_stream_is_journal(other, other_id));
	/* Another file, another inode or device, a pipe, a closed fd. */
	assert_false(lm_log_stream_is_journal(fd, other_id));
	stream_id(fd, text, sizeof text, 0, 1);
	assert_false(lm_log_stream_is_journal(fd, text));
	stream_id(fd, text, sizeof text, 1, 0);
	assert_false(lm_log_stream_is_journal(fd, text));
	assert_int_equal(pipe(fds), 0);
	assert_false(lm_log_stream_is_journal(fds[1], id));
	close(fds[0]);
	close(fds[1]);
	assert_false(lm_log_stream_is_journal(fds[1], id));

	/* Not set, or not systemd's "dev:ino" in decimal. */
	assert_false(lm_log_stream_is_journal(fd, NULL));
	assert_false(lm_log_stream_is_journal(fd, ""));
	const char *colon = strchr(id, ':');
	/* The stream's own "dev:ino" with something around it. */
	static const struct {
		const char *before, *after;
	} malformed[] = {{"", ":"}, {":", ""},  {" ", ""}, {"+", ""}, {"-", ""},
	                 {"", " "}, {"", ":1"}, {"", "x"}, {"", "\n"}};
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		snprintf(text, sizeof text, "%s%s%s", malformed[i].before, id, malformed[i].after);
		assert_false(lm_log_stream_is_journal(fd, text));
	}
	snprintf(text, sizeof text, "%.*s", (int)(colon - id), id); /* the device alone */
	assert_false(lm_log_stream_is_journal(fd, text));
	snprintf(text, sizeof text, "%.*s:-%s", (int)(colon - id), id, colon + 1);
	assert_false(lm_log_stream_is_journal(fd, text));
	snprintf(text, sizeof text, "%.*s:0x%s", (int)(colon - id), id, colon + 1);
	assert_false(lm_log_stream_is_journal(fd, text));

	close(fd);
	close(other);
	unlink(path);
	unlink(other_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup(test_levels_and_events, reset),
	        cmocka_unit_test_setup(test_level_filters, reset),
	        cmocka_unit_test_setup(test_default_format, reset),
	        cmocka_unit_test_setup(test_fatal, reset),
	        cmocka_unit_test_setup(test_journal_format, reset),
	        cmocka_unit_test_setup(test_stream_is_journal, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL) ? 1 : 0;
}
