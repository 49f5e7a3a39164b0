-- SPDX-License-Identifier: MIT
-- wrk script for `make bench`, scenario "lat": each connection waits BENCH_DELAY_MS (default 2)
-- milliseconds after every response before it sends the next request, so every server gets
-- about the same offered load (connections / (delay + response time)), well below saturation.
-- wrk starts each request's clock when it writes it, so the delay is not part of the latency.
init = function(args)
   pause = tonumber(os.getenv("BENCH_DELAY_MS") or "2")
end

delay = function()
   return pause
end
