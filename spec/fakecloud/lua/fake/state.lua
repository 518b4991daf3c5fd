-- fake.state: everything the fake remembers (config, faults, request log, tokens, jobs, rate-limit windows).
-- It lives in the memory of the single nginx worker.

local M = {}

M.PERMS_ALL = { "oauth:client:view", "usage:client:view", "usage:organization:view", "usage:simpleSearch:view" }

-- auth clients that may log in (client credentials grant)
M.auth_clients = {
  ["demo-client"] = { secret = "demo-secret", perms = M.PERMS_ALL },
  ["org-viewer"] = { secret = "org-viewer-secret", perms = { "usage:organization:view" } },
  ["client-viewer"] = { secret = "client-viewer-secret", perms = { "usage:client:view" } },
  ["search-viewer"] = { secret = "search-viewer-secret", perms = { "usage:simpleSearch:view" } },
  ["no-perms"] = { secret = "no-perms-secret", perms = {} },
}
for _, c in pairs(M.auth_clients) do
  c.perm_set = {}
  for _, p in ipairs(c.perms) do c.perm_set[p] = true end
end

M.defaults = {
  rate_limit = false,          -- false or { requests = N, per = S } (per token, fixed window, enforced)
  latency = 0,                 -- seconds added to every API and token response
  lifecycle = { polls = 1 },   -- { polls = N } or { seconds = S }
  result_rows = false,         -- false or N: queries/jobs submitted from now on return N synthetic rows
  token_expires_in = 86400,    -- seconds
  status_case = false,         -- false, "upper" or "lower": how queryStatus values are spelled
  page_size_default = 100,     -- aggregates jobs
  search_page_size_default = 100,
  search_cap = 20000,          -- simple search returns at most this many rows in all
  log = true,                  -- record requests for GET /__fake/log
  log_limit = 5000,            -- keep at most this many log entries (oldest dropped first)
  max_jobs = 5000,             -- keep at most this many queries/jobs (oldest forgotten first)
  report_rate_limit = { requests = 300, per = 60 }, -- what inin-ratelimit-* report when rate_limit is false
  today = false,               -- false (the real UTC clock) or "yyyy-MM-dd": the day the one-year limit
                               -- of aggregates jobs and the summary count from
  accepted = false,            -- false or { submit = bool, running = false|"body"|"empty", failed = bool }:
                               -- which answers are 202 instead of 200 (see README)
  omit_query_status = false,   -- true: complete old-generation results carry no queryStatus
  max_response_bytes = false,  -- false or N: result pages above N bytes are refused (400)
  next_uri = "relative",       -- "relative", "absolute" or "opaque": the shape of nextUri
  -- the data set (see the README's "The data set")
  runaway = false,             -- { start = "yyyy-MM-dd", requests = N } or false: set below from the clock
  count_offset = false,        -- false or { date = "yyyy-MM-dd", value = "decimal", client_id = id }
  old_interval_end = "exclusive", -- how old-generation interval ends are read: "exclusive" or "inclusive"
                               -- (the documentation says neither; the client must be right under both)
  search_max_bytes = 5242880,  -- simple search results (all pages) above this: 500 max.response.size.reached
  max_filter_values = 100,     -- aggregates job bodies with more filter values: 400 query.too.long
}

-- The runaway starts a few days before the fake's clock at start (so it shows in the last week and pushes
-- this month over the allowance); config `runaway` moves it or turns it off.
do
  local data = require "fake.data"
  local util = require "fake.util"
  M.defaults.runaway = {
    start = util.ymd(math.floor(os.time() / 86400) - data.RUNAWAY_DAYS_BEFORE_START),
    requests = data.RUNAWAY_REQUESTS,
  }
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deep_copy(x) end
  return c
end
M.deep_copy = deep_copy

-- today as days since 1970-01-01 (UTC): the configured day, else the clock
function M.today()
  local t = M.config.today
  if t then
    local util = require "fake.util"
    return math.floor(util.parse_datetime(t) / 86400)
  end
  ngx.update_time()
  return math.floor(ngx.now() / 86400)
end

M.seq = 0                  -- request log sequence (monotonic, never reset)
M.tokens = {}              -- token -> { client_id, perm_set, expires, revoked }

-- the config took effect: the data set follows its settings
function M.apply_config(cfg)
  M.config = cfg
  require("fake.data").configure(cfg)
end

function M.reset(drop_tokens)
  M.apply_config(deep_copy(M.defaults))
  M.faults = {}
  M.fault_seq = 0
  M.clear_log()
  M.rl = {}
  M.jobs = {}
  M.job_queue = {}
  M.job_head, M.job_tail = 1, 0      -- live ids are job_queue[job_head .. job_tail]
  if drop_tokens then M.tokens = {} end
end


-- ---------------------------------------------------------------- jobs

function M.add_job(job)
  M.jobs[job.id] = job
  local q = M.job_queue
  M.job_tail = M.job_tail + 1
  q[M.job_tail] = job.id
  while M.job_tail - M.job_head + 1 > M.config.max_jobs do
    M.jobs[q[M.job_head]] = nil
    q[M.job_head] = nil
    M.job_head = M.job_head + 1
  end
end

-- ---------------------------------------------------------------- request log
-- Entries are stored as arrays of JSON pieces (joined on output) in a fixed-size ring (a dense array: no holes, no hash part,
-- so a long log does not slow the worker down), with their seq numbers in a parallel ring.

function M.next_seq()
  M.seq = M.seq + 1
  return M.seq
end

function M.add_log(seq, pieces)
  if not M.config.log then return end
  local size = M.config.log_limit
  if size ~= M.log_size then M.resize_log(size) end
  local pos = M.log_pos % size + 1
  M.log_pos = pos
  M.log[pos] = pieces
  M.log_seq[pos] = seq
  if M.log_count < size then M.log_count = M.log_count + 1 end
end

-- entries oldest first: returns an array of ring positions
local function positions()
  local out, size, n = {}, M.log_size, M.log_count
  local first = (M.log_pos - n) % size
  for i = 1, n do out[i] = (first + i - 1) % size + 1 end
  return out
end

function M.resize_log(size)
  local keep_text, keep_seq = {}, {}
  for _, p in ipairs(positions()) do
    keep_text[#keep_text + 1] = M.log[p]
    keep_seq[#keep_seq + 1] = M.log_seq[p]
  end
  local from = math.max(1, #keep_text - size + 1)
  M.log, M.log_seq, M.log_size, M.log_pos, M.log_count = {}, {}, size, 0, 0
  for i = from, #keep_text do
    M.log_pos = M.log_pos + 1
    M.log[M.log_pos] = keep_text[i]
    M.log_seq[M.log_pos] = keep_seq[i]
    M.log_count = M.log_count + 1
  end
  M.log_pos = M.log_pos % size
end

-- JSON array text of the entries with seq > since, in seq order
function M.log_json(since)
  local idx = {}
  for _, p in ipairs(positions()) do
    if M.log_seq[p] > since then idx[#idx + 1] = p end
  end
  local seqs = M.log_seq
  table.sort(idx, function(a, b) return seqs[a] < seqs[b] end)
  local out = {}
  for i, j in ipairs(idx) do out[i] = table.concat(M.log[j]) end
  return "[" .. table.concat(out, ",") .. "]"
end

function M.clear_log()
  M.log, M.log_seq = {}, {}
  M.log_size = M.config.log_limit
  M.log_pos, M.log_count = 0, 0
end

-- ---------------------------------------------------------------- faults

-- Find the first pending fault whose kind is in `kinds` and that matches the request.
-- default_scope(path) tells whether a fault without match.path applies to this path.
function M.find_fault(kinds, method, path, default_scope)
  for _, f in ipairs(M.faults) do
    if f.remaining ~= 0 and kinds[f.fault] then
      local m = f.match
      local ok = true
      if m and m.method and m.method:upper() ~= method then ok = false end
      if ok then
        if m and m.path then
          ok = require("fake.util").path_matches(path, m.path)
        elseif default_scope then
          ok = default_scope(path)
        end
      end
      if ok then return f end
    end
  end
  return nil
end

function M.consume(f)
  if f.remaining > 0 then f.remaining = f.remaining - 1 end
  f.applied = (f.applied or 0) + 1
  if f.remaining == 0 then
    for i, g in ipairs(M.faults) do
      if g == f then table.remove(M.faults, i) break end
    end
  end
end

M.reset(true)
require("fake.data").today = M.today

return M
