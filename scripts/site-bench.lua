-- wrk script for scripts/site-bench.sh: GET a random one of the site's
-- files (f0000.html .. f0999.html) on each request, over keep-alive.
-- The seed is fixed so that both servers get the same sequence.
local count = tonumber(os.getenv("SITE_FILES") or "1000")

function init(args)
    math.randomseed(19)
end

function request()
    return wrk.format("GET", string.format("/f%04d.html", math.random(0, count - 1)))
end
