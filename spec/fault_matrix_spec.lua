-- The fault matrix: every fault the fake cloud can inject, at every step of every flow, generated
-- from three tables (FAULTS x STEPS x FLOWS). Each case must end either in success, with exactly the
-- rows of a clean run of the same flow (none lost, none duplicated, same order), or in a clean
-- `nil, err` (pagers: rows()/pages() raise that same table) where err is a usage error with a code;
-- never a Lua error of another kind, never a hang (every case is bounded by the client's timeout,
-- retry and poll options and checked against CASE_LIMIT), never a lost or duplicated row.
--
-- Placing a fault at a step: each case's client has its calls of the flow's two operations (submit,
-- read) wrapped (client.port.call, through which every flow request goes); the wrapper registers the fault just before the call that makes the step's request,
-- with a `match` on the method and on the path of that very request (the execution/job id is in
-- it, so cases can run side by side). Steps: login (the token request; the fault is registered
-- before the case), submit, poll (first result GET, answers Queued/Running: lifecycle polls = 1),
-- final/page 1 (the GET that answers the final state: the whole result, or page 1), page 2 and
-- page 3 (250 synthetic rows, page_size 100). Cases whose request paths cannot be told apart
-- (login: one token endpoint) run as one batch per fault with the fault's count multiplied by the
-- number of cases; batches run their cases concurrently under usage.gather, except `drop`, whose
-- cases run one by one in the blocking runtime (see FAULTS).
-- The rate limit is the fake's per-token window ({requests = R, per = 2}): R is the number of API
-- requests a case makes before the step (a warm-up request makes the submit the second one); the
-- limit is lifted once every case of the batch has seen its 429.
--
-- The resulting table goes to build/fault-matrix-<interpreter>.md (and docs/hardening.md).
local H = require "helper"
local usage = require "usage"
local errors = require "usage.base.errors"
local core = require "usage.core"
local fakecloud = require "fakecloud"

local INTERP = fakecloud.interpreter
local CASE_LIMIT = 30 -- seconds; far above the longest bounded case (retries x timeouts)
local ROWS, PAGE = 250, 100

-- ------------------------------------------------------------------ the three tables

local FLOWS = {
  { name = "query", submit = "postUsageQuery", read = "getUsageQueryExecutionIdResults", id_arg = 1,
    submit_method = "POST", submit_path = "^/api/v2/usage/query$",
    run = function(c, o) return c:query({ interval = H.I, groupBy = { "OAuthClientId" } }, o) end },
  { name = "client_query", submit = "postOauthClientUsageQuery", read = "getOauthClientUsageQueryResult",
    id_arg = 1, submit_method = "POST", submit_path = "^/api/v2/oauth/clients/[^/]+/usage/query$",
    run = function(c, o) return c:client_query(H.ACME, { interval = H.I }, o) end },
  { name = "client_summary", submit = "getOauthClientUsageSummary", read = "getOauthClientUsageQueryResult",
    id_arg = 1, submit_method = "GET", submit_path = "^/api/v2/oauth/clients/[^/]+/usage/summary$",
    run = function(c, o) o.days = 7 return c:client_summary(H.ACME, o) end },
  { name = "search", paged = "rows", submit = "postUsageSimplesearch", read = "getUsageSimplesearchExecutionIdResults",
    id_arg = 1, submit_method = "POST", submit_path = "^/api/v2/usage/simplesearch$",
    pager = function(c, o) return c:search({ interval = H.I }, o) end },
  { name = "aggregates", paged = "pages", submit = "postUsageAggregatesQueryJobs", read = "getUsageAggregatesQueryJob",
    id_arg = 1, submit_method = "POST", submit_path = "^/api/v2/usage/aggregates/query/jobs$",
    pager = function(c, o) return c:aggregates({ interval = H.DAYS }, o) end },
  { name = "client_aggregates", paged = "all", submit = "postUsageClientClientIdAggregatesQueryJobs",
    read = "getUsageClientClientIdAggregatesQueryJob", id_arg = 2, submit_method = "POST",
    submit_path = "^/api/v2/usage/client/[^/]+/aggregates/query/jobs$",
    pager = function(c, o) return c:client_aggregates(H.ACME, { interval = H.DAYS }, o) end },
}

-- read = which call of the flow's read operation makes the step's request (clean run)
local STEPS = {
  { name = "login" },
  { name = "submit" },
  { name = "poll", read = 1 },
  { name = "final/page 1", read = 2 },
  { name = "page 2", read = 3, paged = true },
  { name = "page 3", read = 4, paged = true },
}

local ALL = { login = true, submit = true, poll = true, ["final/page 1"] = true, ["page 2"] = true, ["page 3"] = true }
local API = { submit = true, poll = true, ["final/page 1"] = true, ["page 2"] = true, ["page 3"] = true }
local READS = { poll = true, ["final/page 1"] = true, ["page 2"] = true, ["page 3"] = true }

-- spec: the fake's fault; steps: where it can happen (elsewhere it is "n/a": the fake applies it
-- only there); client: option overrides for the case's client
local FAULTS = {
  { name = "429 + Retry-After", spec = { fault = "status", status = 429, retry_after = 1 }, steps = ALL },
  { name = "500", spec = { fault = "status", status = 500 }, steps = ALL },
  { name = "502", spec = { fault = "status", status = 502 }, steps = ALL },
  { name = "503", spec = { fault = "status", status = 503 }, steps = ALL },
  { name = "504", spec = { fault = "status", status = 504 }, steps = ALL },
  { name = "slow > timeout", spec = { fault = "slow", delay = 1.5 }, steps = ALL, client = { timeout = 0.4 } },
  -- count 2: libcurl itself resends once when a reused connection closes without an answer. Under
  -- usage.gather the multi handle's shared pool offers other idle connections for more silent
  -- resends, so how many drops a client sees would depend on the pool: these cases run one at a time
  -- in the blocking runtime (one cached connection per session), where the client sees the second.
  { name = "drop (x2)", spec = { fault = "drop", count = 2 }, steps = ALL, blocking = true },
  { name = "truncated", spec = { fault = "truncated" }, steps = ALL },
  { name = "malformed", spec = { fault = "malformed" }, steps = ALL },
  { name = "expired_token", spec = { fault = "expired_token" }, steps = API },
  { name = "token_throttle", spec = { fault = "token_throttle" }, steps = { login = true } },
  { name = "job_failed", spec = { fault = "job_failed" }, steps = { submit = true } },
  { name = "job_cancelled", spec = { fault = "job_cancelled" }, steps = { submit = true } },
  { name = "unknown_status", spec = { fault = "unknown_status", status = "Pending" }, steps = READS },
  { name = "rate limit", rate_limit = true, steps = API },
}

-- ------------------------------------------------------------------ helpers

-- canonical text of a row: keys sorted, recursively (no dependence on table order)
local function canon(v)
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for i, k in ipairs(keys) do parts[i] = tostring(k) .. "=" .. canon(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "number" then
    return string.format("%.17g", v)
  end
  return tostring(v)
end

local function canon_rows(rows)
  local out = {}
  for i, r in ipairs(rows) do out[i] = canon(r) end
  return out
end

local function copy(t)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  return o
end

local function is_usage_error(e)
  return errors.is_error(e) and type(e.code) == "string" and e.code ~= ""
end

-- Run a flow to its end with client c. -> rows (array) | nil, err, partial rows ; raises only on bugs
local function consume(flow, c, opts)
  if not flow.paged then
    local result, err = flow.run(c, opts)
    if result then return result.results or {} end
    return nil, err, {}
  end
  local pager = flow.pager(c, opts)
  local got = {}
  if flow.paged == "all" then
    local rows, err = pager:all()
    if rows then return rows end
    return nil, err, got
  end
  local ok, raised = pcall(function()
    if flow.paged == "rows" then
      for row in pager:rows() do got[#got + 1] = row end
    else
      for page in pager:pages() do
        for _, row in ipairs(page) do got[#got + 1] = row end
      end
    end
  end)
  if ok then return got end
  if not is_usage_error(raised) then error(raised, 0) end -- a Lua crash: let the case record it
  if raised ~= pager.err then error("the raised error is not the pager's err", 0) end
  return nil, raised, got
end

-- ------------------------------------------------------------------ the spec

describe("fault matrix", function()
  local fake
  local clean = {}   -- flow name -> canonical rows
  local clean_requests = {} -- flow name -> requests of the clean run (login included)
  local results = {} -- key fault|step|flow -> outcome record

  local function new_client(case)
    local o = {
      base_url = fake.base_url,
      client_id = H.clients.demo.id,
      client_secret = H.clients.demo.secret,
      timeout = 5, connect_timeout = 2,
      retry = { max_retries = 3, max_retry_time = 8, max_retry_after = 5 },
      poll = { interval = 0.02, max_interval = 0.05, timeout = 8 },
    }
    for k, v in pairs(case and case.fault.client or {}) do o[k] = v end
    if case then
      case.codes = {}
      o.logger = function(_, _, fields)
        if not fields then return end
        if fields.code then case.codes[fields.code] = true end
        if fields.status == 429 then case.saw_429 = true; if case.on_429 then case.on_429() end end
      end
    end
    return usage.new(o)
  end

  -- Wrap the calls of the flow's operations on this client (its port: what the flows call) so that
  -- on_call(kind, n, id) runs before each.
  local function instrument(c, flow, on_call)
    local n = { submit = 0, read = 0 }
    local orig = c.port.call
    c.port.call = function(op, pargs, ...)
      local kind = (op.name == flow.submit and "submit") or (op.name == flow.read and "read") or nil
      if kind then
        n[kind] = n[kind] + 1
        on_call(kind, n[kind], kind == "read" and pargs[flow.id_arg] or nil)
      end
      return orig(op, pargs, ...)
    end
    return n
  end

  setup(function()
    fake = H.start()
    fake:config { lifecycle = { polls = 1 }, result_rows = ROWS }
    -- the clean runs: the rows every case must reproduce, and the step map (read calls per flow)
    for _, flow in ipairs(FLOWS) do
      local c = new_client()
      local n = instrument(c, flow, function() end)
      local rows, err = consume(flow, c, { page_size = flow.paged and PAGE or nil })
      assert(rows, "clean run of " .. flow.name .. ": " .. tostring(err))
      assert.equal(ROWS, #rows)
      assert.equal(flow.paged and 4 or 2, n.read, flow.name .. ": read calls of a clean run")
      clean[flow.name] = canon_rows(rows)
      clean_requests[flow.name] = c:stats().requests
      c:close()
    end
  end)

  teardown(function()
    if fake then fake:stop() end
  end)

  -- One case: run the flow with the fault placed at the step. Returns the outcome record.
  local function run_case(case)
    local flow, step, fault = case.flow, case.step, case.fault
    local c = new_client(case)
    case.client = c
    local opts = { page_size = flow.paged and PAGE or nil }
    local function place(match)
      local f = copy(fault.spec)
      f.match = match
      fake:fault(f)
      case.placed = true
    end
    instrument(c, flow, function(kind, n, id)
      if fault.rate_limit then
        if step.name == "submit" and kind == "submit" then
          -- one counted request before the submit (the unwrapped operation: a 404)
          getmetatable(c).getUsageQueryExecutionIdResults(c, "warm-up")
        end
        return
      end
      if step.name == "submit" and kind == "submit" then
        case.match = { method = flow.submit_method, path = flow.submit_path }
        place(case.match)
      elseif step.read and kind == "read" and n == step.read then
        case.match = { method = "GET", path = id, plain = true }
        place({ method = "GET", path = id })
      end
    end)
    local t0 = core.now()
    local rows, err, partial = consume(flow, c, opts)
    case.elapsed = core.now() - t0
    case.rows, case.err, case.partial = rows, err, partial
    return true
  end

  -- Run cases side by side (under usage.gather), or one at a time in the blocking runtime; record
  -- the outcome of each; return the failures found and the fake's log of the batch.
  local function run_batch(cases, before, blocking)
    fake:clear_faults()
    fake:clear_log()
    if before then before() end
    local t0 = core.now()
    local done, errs = {}, {}
    if blocking then
      for i, case in ipairs(cases) do done[i], errs[i] = pcall(run_case, case) end
    else
      local fns = {}
      for i, case in ipairs(cases) do fns[i] = function() return run_case(case) end end
      done, errs = usage.gather(fns)
    end
    local batch_elapsed = core.now() - t0
    fake:config { rate_limit = false }
    local log = fake:log()
    fake:clear_faults()
    local problems = {}
    for i, case in ipairs(cases) do
      local key = case.fault.name .. " | " .. case.step.name .. " | " .. case.flow.name
      local rec = { fault = case.fault.name, step = case.step.name, flow = case.flow.name }
      local function bad(why) problems[#problems + 1] = key .. ": " .. why; rec.problem = why end
      if not done[i] then
        rec.outcome = "CRASH"
        bad("Lua error: " .. tostring(errs[i]))
      else
        local c = case.client
        rec.requests = c:stats().requests
        local relogins = math.max(0, c.auth.logins - 1)
        rec.retries = c:stats().retries + relogins -- a re-login repeats the request
        -- requests beyond the clean run that are neither retries nor re-logins: extra polls
        rec.extra = c:stats().requests - clean_requests[case.flow.name] - c:stats().retries - 2 * relogins
                    - (case.fault.rate_limit and case.step.name == "submit" and 1 or 0)
        if case.rows then
          rec.outcome = "ok"
          local got = canon_rows(case.rows)
          local want = clean[case.flow.name]
          if #got ~= #want then
            bad(string.format("%d rows instead of %d", #got, #want))
          else
            for j = 1, #want do
              if got[j] ~= want[j] then bad("row " .. j .. " differs from the clean run") break end
            end
          end
        else
          local err = case.err
          if not is_usage_error(err) then
            rec.outcome = "CRASH"
            bad("failed without a usage error: " .. tostring(err))
          else
            rec.outcome = "err"
            rec.code = err.code
            -- rows delivered before the failure are a prefix of the clean rows
            local got, want = canon_rows(case.partial or {}), clean[case.flow.name]
            for j = 1, #got do
              if got[j] ~= want[j] then bad("partial row " .. j .. " differs from the clean run") break end
            end
          end
        end
        if (case.elapsed or batch_elapsed) > CASE_LIMIT then bad(string.format("took %.1f s", case.elapsed)) end
        -- the fault really happened at that step
        if case.fault.rate_limit then
          if not case.saw_429 then bad("the rate limit never answered 429") end
        elseif case.fault.spec.fault == "slow" then
          -- the fake logs a slow request only once it answers, long after the client gave up on it
          if not case.codes.timeout then bad("no request timed out") end
        elseif case.step.name ~= "login" then
          if not case.placed then bad("the step never came (fault not placed)") end
          local hits = 0
          for _, e in ipairs(log) do
            local m = case.match
            if m and e.fault == case.fault.spec.fault and e.method == m.method
               and (m.plain and e.path:find(m.path, 1, true) or (not m.plain and e.path:find(m.path))) then
              hits = hits + 1
            end
          end
          if hits == 0 then bad("the fault was not applied") end
        elseif rec.outcome == "ok" and rec.retries == 0 and c:stats().logins < 2 then
          bad("login fault left no trace")
        end
      end
      results[key] = rec
      if case.client then case.client:close() end
    end
    return problems, log
  end

  local function cases_for(fault, step)
    local out = {}
    for _, flow in ipairs(FLOWS) do
      if (not step.paged or flow.paged) and fault.steps[step.name] then
        out[#out + 1] = { fault = fault, step = step, flow = flow }
      end
    end
    return out
  end

  for _, fault in ipairs(FAULTS) do
    it(fault.name .. " at every step of every flow", function()
      local problems = {}
      local function add(list) for _, p in ipairs(list) do problems[#problems + 1] = p end end
      -- login: one token endpoint for all; the fault counts once per case (and per attempt a case
      -- must see), and all first attempts reach the fake before any retry (backoff >= 0.125 s)
      local login_cases = cases_for(fault, STEPS[1])
      if fault.blocking then
        for i = 1, #STEPS do
          for _, case in ipairs(cases_for(fault, STEPS[i])) do
            add(run_batch({ case }, i == 1 and function()
              local f = copy(fault.spec)
              f.match = { method = "POST", path = "^/oauth/token$" }
              fake:fault(f)
            end or nil, true))
          end
        end
      elseif #login_cases > 0 then
        local probs, log = run_batch(login_cases, function()
          local f = copy(fault.spec)
          f.count = (f.count or 1) * #login_cases
          f.match = { method = "POST", path = "^/oauth/token$" }
          fake:fault(f)
        end)
        add(probs)
        local hits = 0
        for _, e in ipairs(log) do
          if e.path == "/oauth/token" and e.fault == fault.spec.fault then hits = hits + 1 end
        end
        if hits < #login_cases and fault.spec.fault ~= "slow" then
          problems[#problems + 1] = fault.name .. " | login: applied " .. hits .. " times for " .. #login_cases .. " cases"
        end
      end
      if fault.blocking then
        -- done above, case by case
      elseif fault.rate_limit then
        -- one batch per step: R = API requests made before the step
        for i = 2, #STEPS do
          local step = STEPS[i]
          local cases = cases_for(fault, step)
          local R = step.read or 1
          local seen = 0
          for _, case in ipairs(cases) do
            case.on_429 = function()
              if case.counted then return end
              case.counted = true
              seen = seen + 1
              if seen == #cases then fake:config { rate_limit = false } end
            end
          end
          add(run_batch(cases, function() fake:config { rate_limit = { requests = R, per = 2 } } end))
        end
      else
        local submit_cases = cases_for(fault, STEPS[2])
        if #submit_cases > 0 then add(run_batch(submit_cases)) end
        local read_cases = {}
        for i = 3, #STEPS do
          for _, case in ipairs(cases_for(fault, STEPS[i])) do read_cases[#read_cases + 1] = case end
        end
        if #read_cases > 0 then add(run_batch(read_cases)) end
      end
      assert.same({}, problems)
    end)
  end

  it("writes the matrix (build/fault-matrix-" .. INTERP .. ".md)", function()
    local function cell(r)
      if not r then return "n/a" end
      local s
      if r.outcome == "ok" then
        s = "ok after " .. r.retries .. (r.retries == 1 and " retry" or " retries")
        if r.extra and r.extra > 0 then s = s .. " +" .. r.extra .. (r.extra == 1 and " poll" or " polls") end
      elseif r.outcome == "err" then
        s = "err " .. r.code
      else
        s = r.outcome
      end
      if r.problem then s = s .. " (FAIL: " .. r.problem .. ")" end
      return s
    end
    local lines = {
      "Fault matrix (" .. INTERP .. ", " .. os.date("!%Y-%m-%d") .. "): outcome of each fault at each step of each flow.",
      "\"ok after N retries\": complete rows identical to a clean run; N counts repeated requests (retries and",
      "re-logins). \"err <code>\": a clean nil, err (pagers raise it). n/a: the fake cannot inject it there.",
      "",
    }
    local head, sep = { "fault", "step" }, { "---", "---" }
    for _, flow in ipairs(FLOWS) do head[#head + 1] = flow.name; sep[#sep + 1] = "---" end
    lines[#lines + 1] = "| " .. table.concat(head, " | ") .. " |"
    lines[#lines + 1] = "|" .. table.concat(sep, "|") .. "|"
    local counts = {}
    for _, flow in ipairs(FLOWS) do counts[flow.name] = { ok = 0, err = 0, bad = 0 } end
    local total = 0
    for _, fault in ipairs(FAULTS) do
      for _, step in ipairs(STEPS) do
        if fault.steps[step.name] then
          local row = { fault.name, step.name }
          for _, flow in ipairs(FLOWS) do
            local r = results[fault.name .. " | " .. step.name .. " | " .. flow.name]
            row[#row + 1] = (step.paged and not flow.paged) and "-" or cell(r)
            if r then
              total = total + 1
              local k = counts[flow.name]
              if r.problem then k.bad = k.bad + 1 elseif r.outcome == "ok" then k.ok = k.ok + 1 else k.err = k.err + 1 end
            end
          end
          lines[#lines + 1] = "| " .. table.concat(row, " | ") .. " |"
        end
      end
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = "| flow | ok | err | failed |"
    lines[#lines + 1] = "|---|---|---|---|"
    for _, flow in ipairs(FLOWS) do
      local k = counts[flow.name]
      lines[#lines + 1] = string.format("| %s | %d | %d | %d |", flow.name, k.ok, k.err, k.bad)
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = total .. " cases."
    os.execute("mkdir -p build")
    local path = "build/fault-matrix-" .. INTERP .. ".md"
    local fh = assert(io.open(path, "w"))
    fh:write(table.concat(lines, "\n"), "\n")
    fh:close()
    assert.is_true(total > 0)
  end)
end)
