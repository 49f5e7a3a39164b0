-- SPDX-License-Identifier: MIT
-- wrk script for `make bench`, scenario "pipe": every write carries BENCH_PIPELINE (default 16)
-- requests for the URL's path, back to back (HTTP/1.1 pipelining). wrk counts the requests in
-- the string and parses every response, so its "requests" are real requests (responses), not
-- writes; its latency is that of a whole batch (first byte written to last response read).
init = function(args)
   local depth = tonumber(os.getenv("BENCH_PIPELINE") or "16")
   local r = {}
   for i = 1, depth do
      r[i] = wrk.format()
   end
   req = table.concat(r)
end

request = function()
   return req
end
