-- usage.api.limits: every limit of the service and every default of the client, one named constant each
-- (docs/service.md gives the service's own figures, docs/hardening.md the arithmetic of the paging bounds).
-- The argument engine (usage.api.params), validation, the flows, the exchange, the login, the command line
-- and the store read them from here; nothing else writes these numbers. The code reads them when it runs,
-- not when it loads, so a spec may lower one for a test.

local M = {}

---------------------------------------------------------------------------------------------------
-- the service (docs/service.md, "Limits the client enforces or plans around")

M.MAX_JOB_DAYS = 90            -- an aggregates job spans at most 90 days from its start
M.WINDOW_YEARS = 1             -- an aggregates job starts at most one year ago (read strictly: now minus a year)
M.MIN_PAGE_SIZE = 1            -- pageSize of the paged reads: 1 ..
M.MAX_PAGE_SIZE = 1000         --   .. 1,000
M.SERVICE_PAGE_SIZE = 100      -- the page size a job read gets from the service when it asks for none
M.SEARCH_CAP = 20000           -- a simple search hands out 20,000 rows at most
M.SEARCH_MAX_BYTES = 5 * 1024 * 1024 -- simple-search results beyond 5 MB fail (500), whatever the page size
M.SUMMARY_DAYS = "7"           -- getOauthClientUsageSummary's days when none is given
M.SUMMARY_MAX_DIGITS = 6       -- ... a whole number of days of at most 6 digits
M.RETRY_AFTER_429 = 3          -- seconds to wait after a 429 without Retry-After (as the Java/.NET SDKs)
M.TOKEN_MAX_LIFETIME = 48 * 3600 -- the longest token the login service issues (5 minutes to 48 hours)
M.TOKEN_DEFAULT_LIFETIME = 86400 -- a token answer without expires_in: the service's default, 24 hours

---------------------------------------------------------------------------------------------------
-- what the client sends and accepts

M.MAX_ID = 1024                -- an id (path parameter, job id, id a server gave) has 1 .. 1,024 characters
M.PAGE_SIZE = 1000             -- the pagers ask for the most rows a page may hold
M.MAX_CURSOR = 4096            -- bytes of a cursors.after the pager follows

-- paging bounds (docs/hardening.md): a job of at most 90 days never has 100,000 pages of 1,000 rows;
-- cursors are remembered for loop detection in a bounded window; a page's answer is bounded by the page
-- size asked (PAGE_BYTES + ROW_BYTES a row asked; PAGE_VALUES + ROW_VALUES JSON values a row)
M.MAX_PAGES = 100000           -- pages of one job at most (max_pages' default)
M.MAX_PAGES_LIMIT = 1e9        -- the largest max_pages a caller may set
M.CURSOR_MEMORY = 1000         -- cursors remembered to spot a loop
M.MAX_EMPTY_PAGES = 10         -- empty pages in a row, each with a new cursor, before the pager gives up
M.PAGE_BYTES, M.ROW_BYTES = 64 * 1024, 8 * 1024
M.PAGE_VALUES, M.ROW_VALUES = 1024, 128

---------------------------------------------------------------------------------------------------
-- the client's defaults (usage.new's options; the command line's flags show them)

M.TIMEOUT = 16                 -- seconds for one HTTP request (the JavaScript SDK's)
M.CONNECT_TIMEOUT = 5
M.MAX_RESPONSE_SIZE = 64 * 1024 * 1024 -- bytes of one answer
M.POLL_INTERVAL = 1            -- first wait before polling a query (doubling ..
M.POLL_MAX_INTERVAL = 8        --   .. up to this)
M.POLL_TIMEOUT = 300           -- a query still running after this long: poll_timeout
M.MAX_RETRIES = 5              -- retries of one request
M.MAX_RETRY_TIME = 60          -- seconds spent retrying one request at most
M.MAX_RETRY_AFTER = 180        -- a Retry-After longer than this ends the retries (the .NET SDK's bound)
M.BACKOFF_FIRST, M.BACKOFF_MAX = 0.25, 8 -- exponential backoff (jittered): the first wait, the longest
M.LOGIN_THROTTLE_WAIT = 1      -- the shortest wait after a throttled login (400 "rate limit")
M.TOKEN_MIN_LIFETIME = 60      -- a token is used at least this long, whatever expires_in says
M.TOKEN_REFRESH_MARGIN, M.TOKEN_REFRESH_SHARE = 300, 0.1 -- renewed min(300 s, 10% of its life) before it ends

return M
