-- wrk script for bench/service.py: rotate over a list of request paths.
--   wrk -t2 -c8 -d15s -s bench/service_paths.lua http://127.0.0.1:PORT -- PATHS_FILE
-- PATHS_FILE holds one path (with its query string) per line. Each thread starts at a
-- different offset and walks the list in order, so every path is requested about equally
-- often and consecutive requests never repeat one. No Accept-Encoding header is sent: the
-- responses are not compressed. done() prints one JSON line (prefix WRK_JSON) for parsing.

local thread_count = 0

function setup(thread)
    thread:set("thread_id", thread_count)
    thread_count = thread_count + 1
end

local paths = {}
local position = 0

function init(args)
    for line in io.lines(args[1]) do
        if #line > 0 then
            paths[#paths + 1] = line
        end
    end
    position = ((thread_id or 0) * 7919) % #paths
end

function request()
    position = position % #paths + 1
    return wrk.format("GET", paths[position])
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
        '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
        e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
