/* Building, stamping and packing every replicated command (command.h). */
#include "config.h"

#include "lmd/command.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "lmd/walltime.h"
#include "proto/frame.h"

/* Stamps c with the wall clock and packs it into cmd, sized from what it
 * holds. */
static int pack(struct lm_command *cmd, Lmcmd__Command *c)
{
	c->has_time_us = 1;
	c->time_us = lm_walltime_us();
	size_t size = lmcmd__command__get_packed_size(c);
	cmd->len = 0;
	cmd->data = cmd->local;
	if (size > sizeof cmd->local) {
		cmd->data = malloc(size);
		if (!cmd->data)
			return cmd->error = LMC_ENOMEM;
	}
	cmd->len = lmcmd__command__pack(c, cmd->data);
	return cmd->error = 0;
}

void lm_command_release(struct lm_command *cmd)
{
	if (cmd->data != cmd->local)
		free(cmd->data);
	cmd->data = NULL;
	cmd->len = 0;
}

int lm_command_open_session(struct lm_command *cmd, const struct lm_command_session *s)
{
	Lmcmd__OpenSession os = LMCMD__OPEN_SESSION__INIT;
	os.has_session_id = os.has_secret_digest = os.has_user = os.has_host = 1;
	os.session_id = s->session_id;
	os.secret_digest.data = (uint8_t *)s->secret_digest;
	os.secret_digest.len = 32;
	os.user = lm_bytes_from_cstr(s->user);
	os.host = lm_bytes_from_cstr(s->host);
	os.has_display = os.has_lock_code = os.has_app_version = os.has_pid = 1;
	os.display = lm_bytes_from_cstr(s->display);
	os.lock_code = lm_bytes_from_cstr(s->lock_code);
	os.app_version = lm_bytes_from_cstr(s->app_version);
	os.pid = s->pid;
	if (s->ip && s->ip[0]) {
		os.has_ip = 1;
		os.ip = lm_bytes_from_cstr(s->ip);
	}
	if (s->project && s->project[0]) {
		os.has_project = 1;
		os.project = lm_bytes_from_cstr(s->project);
	}
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_OPEN_SESSION;
	c.open_session = &os;
	return pack(cmd, &c);
}

int lm_command_checkout(struct lm_command *cmd, uint64_t session_id, uint64_t request_id,
                        const char *feature, const char *version, uint32_t count,
                        const char *vendor_data)
{
	Lmcmd__Checkout co = LMCMD__CHECKOUT__INIT;
	co.has_session_id = co.has_request_id = co.has_feature = co.has_version = co.has_count = 1;
	co.session_id = session_id;
	co.request_id = request_id;
	co.feature = lm_bytes_from_cstr(feature);
	co.version = lm_bytes_from_cstr(version);
	co.count = count;
	if (vendor_data[0]) {
		co.has_vendor_data = 1;
		co.vendor_data = lm_bytes_from_cstr(vendor_data);
	}
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_CHECKOUT;
	c.checkout = &co;
	return pack(cmd, &c);
}

int lm_command_checkin(struct lm_command *cmd, uint64_t session_id, uint64_t request_id,
                       uint64_t handle)
{
	Lmcmd__Checkin ci = LMCMD__CHECKIN__INIT;
	ci.has_session_id = ci.has_request_id = ci.has_handle = 1;
	ci.session_id = session_id;
	ci.request_id = request_id;
	ci.handle = handle;
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_CHECKIN;
	c.checkin = &ci;
	return pack(cmd, &c);
}

int lm_command_close_session(struct lm_command *cmd, uint64_t session_id, Lmcmd__CloseReason reason)
{
	Lmcmd__CloseSession cs = LMCMD__CLOSE_SESSION__INIT;
	cs.has_session_id = cs.has_reason = 1;
	cs.session_id = session_id;
	cs.reason = reason;
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_CLOSE_SESSION;
	c.close_session = &cs;
	return pack(cmd, &c);
}

int lm_command_remove_handle(struct lm_command *cmd, uint64_t handle, Lmcmd__RemoveReason reason,
                             uint32_t idle_s)
{
	Lmcmd__RemoveHandle rh = LMCMD__REMOVE_HANDLE__INIT;
	rh.has_handle = 1;
	rh.handle = handle;
	if (reason != LMCMD__REMOVE_REASON__REMOVE_ADMIN) {
		rh.has_reason = rh.has_idle_s = 1;
		rh.reason = reason;
		rh.idle_s = idle_s;
	}
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_REMOVE_HANDLE;
	c.remove_handle = &rh;
	return pack(cmd, &c);
}

int lm_command_remove_named(struct lm_command *cmd, const char *feature, const char *name,
                            int64_t hold_us)
{
	Lmcmd__RemoveNamed rn = LMCMD__REMOVE_NAMED__INIT;
	rn.has_feature = rn.has_name = rn.has_hold_us = 1;
	rn.feature = lm_bytes_from_cstr(feature);
	rn.name = lm_bytes_from_cstr(name);
	rn.hold_us = hold_us;
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_REMOVE_NAMED;
	c.remove_named = &rn;
	return pack(cmd, &c);
}

int lm_command_set_cluster_id(struct lm_command *cmd, const uint8_t *id, size_t len)
{
	Lmcmd__SetClusterId set = LMCMD__SET_CLUSTER_ID__INIT;
	set.has_id = 1;
	set.id.data = (uint8_t *)id;
	set.id.len = len;
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_SET_CLUSTER_ID;
	c.set_cluster_id = &set;
	return pack(cmd, &c);
}

int lm_command_admin_action(struct lm_command *cmd, const char *who, const char *address,
                            const char *action, bool accepted, const char *detail,
                            uint32_t suppressed)
{
	Lmcmd__AdminAction a = LMCMD__ADMIN_ACTION__INIT;
	/* protobuf-c never writes through string fields when packing. */
	a.who = (char *)who;
	a.address = (char *)address;
	a.action = (char *)action;
	a.detail = (char *)detail;
	a.has_accepted = 1;
	a.accepted = accepted;
	if (suppressed) {
		a.has_suppressed = 1;
		a.suppressed = suppressed;
	}
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_ADMIN_ACTION;
	c.admin_action = &a;
	return pack(cmd, &c);
}

int lm_command_leader_change(struct lm_command *cmd, uint32_t raft_id, uint32_t node,
                             const char *address, uint64_t term)
{
	Lmcmd__LeaderChange l = LMCMD__LEADER_CHANGE__INIT;
	l.has_raft_id = l.has_node = l.has_term = 1;
	l.raft_id = raft_id;
	l.node = node;
	l.term = term;
	l.address = (char *)address;
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_LEADER_CHANGE;
	c.leader_change = &l;
	return pack(cmd, &c);
}

int lm_command_set_license(struct lm_command *cmd, const struct lm_license_file *f,
                           const struct lm_options *options)
{
	size_t n = f->nlines;
	Lmcmd__Line *lines = calloc(n ? n : 1, sizeof *lines);
	Lmcmd__Line **ptrs = calloc(n ? n : 1, sizeof *ptrs);
	char *texts = malloc((n ? n : 1) * LM_LINE_MAX);
	int rc = LMC_ENOMEM;
	cmd->data = NULL;
	cmd->len = 0;
	if (!lines || !ptrs || !texts)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct lm_license *l = &f->lines[i];
		char *text = texts + i * LM_LINE_MAX;
		int len = lm_license_canonical(f, l, text, LM_LINE_MAX);
		if (len < 0) {
			rc = len;
			goto out;
		}
		lmcmd__line__init(&lines[i]);
		lines[i].has_text = lines[i].has_signature = 1;
		lines[i].text.data = (uint8_t *)text;
		lines[i].text.len = (size_t)len;
		lines[i].signature.data = (uint8_t *)l->sig;
		lines[i].signature.len = LM_SIG_LEN;
		ptrs[i] = &lines[i];
	}
	Lmcmd__SetLicense set = LMCMD__SET_LICENSE__INIT;
	set.n_lines = n;
	set.lines = ptrs;
	if (options) {
		set.has_options_name = set.has_options_text = 1;
		set.options_name = lm_bytes_from_cstr(options->name);
		set.options_text.data = (uint8_t *)options->canonical;
		set.options_text.len = options->canonical_len;
	}
	Lmcmd__Command c = LMCMD__COMMAND__INIT;
	c.body_case = LMCMD__COMMAND__BODY_SET_LICENSE;
	c.set_license = &set;
	rc = pack(cmd, &c);
out:
	free(lines);
	free(ptrs);
	free(texts);
	return cmd->error = rc;
}
