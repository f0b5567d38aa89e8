"""The clients' event streams the judges read (lease_events.py,
triad_events.py): what `lmutil checkout --json` printed, one JSON object per
line with t_us, event and handle, among lines that are not events."""
import json


def read_events(path, bad):
    """Yields (line number, text, event) for each event of path; a line that
    starts like an object and does not parse is a violation, put in bad."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                yield n, line, json.loads(line)
            except ValueError:
                bad.append("%s:%d: not JSON: %s" % (path, n, line))
