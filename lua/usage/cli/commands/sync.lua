-- genesys-usage sync: bring the history store (usage.store) up to date with the Usage API, for one org or
-- several at once (--profile a --profile b, --all-profiles: one client each, run together by
-- store:sync_orgs). The first run backfills the whole UTC days the service serves (the last year); later
-- runs fetch the days the store lacks and the last --refresh-days again. A day is stored whole or not at
-- all, so an interrupted run leaves whole days and the next one continues. Progress on a terminal (jobs,
-- days, rows per org), nothing otherwise; on stdout one line per org: what was added and replaced, and the
-- days the store now holds for it, and the ids of the jobs that failed; --format json: one document
-- instead (each org's days, rows, jobs, the days not stored and why, the exit status). --dry-run: each org's
-- plan (the days to fetch, the jobs and their requests) read from the store opened read-only: no lock, no
-- write, no request (not even a login). This module reads the flags and reports: the work is usage.store's.
local params = require "usage.api.params"
local interval = require "usage.base.interval"
local json = require "usage.base.json"
local sanitize = require "usage.base.sanitize"
local thousands = require("usage.base.text").thousands
local flows = require "usage.flows"
local limits = require "usage.api.limits"
local store_sync = require "usage.store.sync"
local help = require "usage.cli.help"
local connection = require "usage.cli.connection"
local store_opt = require "usage.cli.store"
local dryrun = require "usage.cli.dryrun"
local term = require "usage.cli.term"
local failure = require "usage.cli.failure"
local NAME = require("usage.cli.program").NAME

local M = { name = "sync" }

local format, concat = string.format, table.concat

local DEFAULT_ORG = "default"
local LOCK_WAIT = 30
local FORMATS = { "text", "json" }

function M.add_to(parser)
  local cmd = help.command(parser, {
    name = M.name,
    summary = "Bring the history store up to date (the days it lacks, the last days again), per org.",
    about = "Bring the history store up to date with the Usage API: the first run backfills every whole UTC day " ..
            "the service serves (the last year), later runs fetch the days the store lacks and the last few " ..
            "days again (the service's latest days may still change). A day is stored whole or not at all: an " ..
            "interrupted run leaves whole days and the next run continues. Each org's rows are labelled with " ..
            "--org LABEL, else the profile's name, else \"default\".",
    more = "Several orgs in one run: --profile a --profile b, or --all-profiles (every profile of " ..
           "~/.gc/config.toml), synced at once into one store. Two syncs of one store never interleave: the " ..
           "second waits --lock-wait seconds, then says what holds the store (exit 75). Progress on a terminal; " ..
           "on stdout one line per org: days added and replaced, rows, and the days the store holds. Exit " ..
           "statuses: 75 try again later (the store is held, the network, 429/5xx), 77 credentials or " ..
           "permission (the store cannot be written), 2 usage, 1 anything else (not a store, a full disk). " ..
           "--format json: one JSON document instead of the lines, with the exit status. --dry-run: what a " ..
           "sync would fetch, read from the store (read-only, no lock, nothing written); nothing is sent.",
    examples = {
      "--org acme",
      "--store /var/lib/genesys-usage/usage.sqlite3 --quiet",
      "--all-profiles --store postgresql://usage@db.example.com/usage",
      "--profile acme --profile globex --refresh-days 7",
      "--all-profiles --dry-run",
      "--org acme --format json",
    },
  })
  cmd:group("Sync",
    cmd:option("--org", "the org's label in the store (one org); default: the --profile name, else \"default\"")
       :argname("LABEL"):convert(function(v)
         if v == "" or #v > 200 or v:find("%c") then
           return nil, "--org: expected a label (1-200 bytes, no control characters)"
         end
         return v
       end):overwrite(false),
    cmd:option("--refresh-days", format("how many of the last stored days are fetched again (default %d)",
                                        store_sync.DEFAULT_REFRESH_DAYS))
       :argname("N"):convert(params.text.number("refresh-days", { min = 0, max = 366 }, true)):overwrite(false),
    cmd:option("--lock-wait", format("how long to wait for another sync of the same store, in seconds " ..
                                     "(default %d)", LOCK_WAIT))
       :argname("SECONDS"):convert(params.text.number("lock-wait", { min = 0, max = 86400 })):overwrite(false))
  cmd:group("Output",
    cmd:option("-f --format", "output format: text (one line per org) or json (one document); default: text")
       :argname("FORMAT"):convert(params.text.choice("format", FORMATS)):overwrite(false),
    cmd:flag("--dry-run", "print what a sync would fetch (the days, the jobs and their requests), read from the " ..
                          "store opened read-only; send nothing, write nothing"):overwrite(false))
  store_opt.add(cmd, { required = true })
  connection.add(cmd, { orgs = true })
  term.add(cmd)
  return cmd
end

-- the progress line: each org's jobs, days and rows; each job's id as a note when it starts, and when it fails
local function progress(s, labels)
  local states = {}
  local t0 = s.term.now()
  local function draw(force)
    local parts = {}
    for _, label in ipairs(labels) do
      local p = states[label]
      if p then
        parts[#parts + 1] = format("%sjobs %d/%d, days %d/%d, rows %s%s", #labels > 1 and (label .. ": ") or "",
                                   p.jobs_done, p.jobs, p.days_done, p.days, thousands(p.rows),
                                   (p.jobs_failed or 0) > 0 and format(" (%d failed)", p.jobs_failed) or "")
      end
    end
    s.term:draw(format("sync: %s  %.1fs", concat(parts, " | "), s.term.now() - t0), force)
  end
  return function(p)
    states[p.org] = p
    draw(p.state ~= "paging")
    local who = #labels > 1 and ("org " .. p.org .. ": ") or ""
    if p.state == "submitted" then
      s.term:note(format("%sjob %s started (%s..%s)", who, tostring(p.job_id), tostring(p.first), tostring(p.last)))
    elseif p.state == "failed" then
      s.term:note(format("%sjob %sof %s..%s failed: %s", who, p.job_id and (p.job_id .. " ") or "",
                         tostring(p.first), tostring(p.last), (tostring(p.error):gsub("^usage: ", ""))))
    end
  end
end

local function days_text(n) return format("%d day%s", n, n == 1 and "" or "s") end

-- what the store holds of an org now: "1 January - 5 December 2026 (339 days)" or "... (300 of 339 days)"
local function holding(held)
  if not held or not held.first_day then return "no day" end
  local a, b = interval.parse_date(held.first_day), interval.parse_date(held.last_day)
  local span = b - a + 1
  local n = tonumber(held.days_stored) or 0
  local label = interval.label(a, b)
  if n == span then return format("%s (%s)", label, days_text(n)) end
  return format("%s (%d of %d days: %d missing)", label, n, span, span - n)
end

-- the days first..last ("YYYY-MM-DD") as "6-8 March 2026 (3 days)", `more` said inside the parentheses
-- ("6-8 March 2026 (3 days, job ...)") | nil
local function span_text(first, last, more)
  local a, b = first and interval.parse_date(first), last and interval.parse_date(last)
  if not (a and b) then return nil end
  return format("%s (%s%s)", interval.label(a, b), days_text(b - a + 1), more or "")
end

-- one line of an org's summary (a failed sync's summary too); the caller makes it safe (term:clean)
local function summary_line(sm, held, where)
  local head = format("synced %s into %s:", sm.org, where)
  if sm.status ~= "ok" then head = format("sync of %s into %s %s:", sm.org, where, sm.status) end
  local did
  if sm.jobs == 0 then
    did = "nothing to fetch"
  else
    did = format("%d day%s added, %d replaced, %s rows, %d job%s%s", sm.days_added, sm.days_added == 1 and "" or "s",
                 sm.days_replaced, thousands(sm.rows), sm.jobs, sm.jobs == 1 and "" or "s",
                 (sm.jobs_failed or 0) > 0 and format(" (%d failed)", sm.jobs_failed) or "")
  end
  local line = format("%s %s in %.1f s; the store holds %s", head, did, sm.elapsed or 0, holding(held))
  local lost = {}
  for _, f in ipairs(sm.failed or {}) do
    lost[#lost + 1] = span_text(f.first, f.last, f.job_id and (", job " .. f.job_id))
  end
  for _, k in ipairs(sm.skipped or {}) do
    lost[#lost + 1] = span_text(k.first, k.last, ", not started: " .. k.reason)
  end
  if #lost > 0 then line = line .. "; not stored (the next run fetches them): " .. concat(lost, ", ") end
  return line
end

-- the exit status and the one line of a failure err would end the run with (store_opt.fail's)
local function ending(err, context)
  local ok, f = pcall(store_opt.fail, err, M.name, context)
  if ok or not failure.is(f) then error(f, 0) end -- (fail always raises a failure: anything else is a bug)
  return f
end

-- JSON: every string that leaves passes the terminal's redactor (the secrets of the run), as valid UTF-8
local function cleaner(s)
  return function(v)
    if v == nil then return json.null end
    return sanitize.utf8(s.term.redactor:text(tostring(v)))
  end
end

local function days_json(clean, first, last)
  local a, b = first and interval.parse_date(first), last and interval.parse_date(last)
  if not (a and b) or b < a then return json.null end
  return { first = clean(first), last = clean(last), count = b - a + 1, label = clean(interval.label(a, b)) }
end

local function spans_json(clean, list, extra)
  local out = json.array()
  for _, f in ipairs(list or {}) do
    local o = days_json(clean, f.first, f.last)
    if o == json.null then o = { first = json.null, last = json.null, count = 0, label = json.null } end
    extra(o, f)
    out[#out + 1] = o
  end
  return out
end

-- the JSON of a run: each org's figures, what was not stored and why (job ids where known), the exit status
local function run_json(s, items, where)
  local clean = cleaner(s)
  local orgs, status = json.array(), 0
  for i, it in ipairs(items) do
    local sm, held = it.summary, it.held
    local f = it.err ~= nil and ending(it.err, #items > 1 and ("org " .. it.org) or nil) or nil
    local o = { org = clean(it.org), profile = clean(it.profile), status = clean(sm and sm.status or "failed"),
                exitStatus = f and f.status or 0, error = json.null, days = json.null, stored = json.null,
                daysPlanned = 0, daysAdded = 0, daysReplaced = 0, rows = 0, jobs = 0, jobsFailed = 0,
                elapsed = json.null, failed = json.array(), skipped = json.array() }
    if f then
      local e = it.err
      o.error = { code = clean(type(e) == "table" and e.code or "error"),
                  message = clean((tostring(f.message):gsub("^error: ", ""))) }
      if status == 0 then status = f.status end
    end
    if sm then
      o.days = days_json(clean, sm.first, sm.last)
      o.daysPlanned, o.daysAdded, o.daysReplaced = sm.days_planned or 0, sm.days_added, sm.days_replaced
      o.rows, o.jobs, o.jobsFailed = sm.rows, sm.jobs, sm.jobs_failed or 0
      o.elapsed = math.floor((sm.elapsed or 0) * 1000 + 0.5) / 1000
      o.failed = spans_json(clean, sm.failed, function(x, fl)
        local e = fl.error
        x.jobId = clean(fl.job_id)
        x.code = clean(type(e) == "table" and e.code or "error")
        x.error = clean((tostring(e):gsub("^usage: ", "")))
      end)
      o.skipped = spans_json(clean, sm.skipped, function(x, k) x.reason = clean(k.reason) end)
    end
    if held and held.first_day then
      local a, b = interval.parse_date(held.first_day), interval.parse_date(held.last_day)
      local n = tonumber(held.days_stored) or 0
      o.stored = { first = clean(held.first_day), last = clean(held.last_day), days = n,
                   missing = (a and b) and (b - a + 1 - n) or json.null }
    end
    orgs[i] = o
  end
  return json.encode { command = "sync", store = clean(where), status = status, orgs = orgs } .. "\n"
end

---------------------------------------------------------------------------------------------------
-- --dry-run

-- the plan of each org (usage.store's sync_plan), from the store opened read-only (absent: none yet)
local function plans(args, s, orgs)
  local st, where = store_opt.open(args, M.name, { required = true, readonly = true, absent = true, term = s.term })
  where = st and st.where or where
  local list = {}
  for i, o in ipairs(orgs) do
    local p, err
    if st then
      p, err = st:sync_plan { org = o.label, now = math.floor(s.now), refresh_days = args.refresh_days }
    else -- (no store yet: no day stored)
      p, err = store_sync.preview(nil, { org = o.label, now = math.floor(s.now),
                                         refresh_days = args.refresh_days or store_sync.DEFAULT_REFRESH_DAYS })
    end
    if not p then
      if st then st:close() end
      store_opt.fail(err, M.name, #orgs > 1 and ("org " .. o.label) or nil)
    end
    list[i] = p
  end
  if st then st:close() end
  return list, where, st ~= false
end

local function plan_lines(p, o, refresh)
  local out = { format("# org %s%s", o.label, o.profile and (" (profile " .. o.profile .. ")") or "") }
  if not p.label then
    out[#out + 1] = "# no complete day yet: a sync would fetch nothing"
    return out
  end
  out[#out + 1] = format("# the service serves %s (%s, UTC); the store holds %d of them", p.label, days_text(p.days),
                         p.stored)
  if p.fetch == 0 then
    out[#out + 1] = "# nothing to fetch: a sync would send no job (and no login)"
    return out
  end
  local parts = {}
  if p.lacking > 0 then parts[1] = format("%d the store lacks", p.lacking) end
  if p.refreshed then
    local a, b = interval.parse_date(p.refreshed.first), interval.parse_date(p.refreshed.last)
    parts[#parts + 1] = format("the last %d it holds again (--refresh-days %d: %s)", p.refreshed.count, refresh,
                               interval.label(a, b))
  end
  out[#out + 1] = format("# a sync would fetch %s: %s", days_text(p.fetch), concat(parts, ", and "))
  out[#out + 1] = format("# as %d aggregates job%s of at most %d days (the API's limit), %d at a time:", #p.spans,
                         #p.spans == 1 and "" or "s", limits.MAX_JOB_DAYS, store_sync.DEFAULT_CONCURRENCY)
  for i, sp in ipairs(p.spans) do
    out[#out + 1] = format("#   job %d: %s", i, span_text(sp.first, sp.last))
  end
  return out
end

-- the calls of a plan, for usage.cli.dryrun: one aggregates job a span
local function plan_calls(p)
  local calls = {}
  for i, sp in ipairs(p.spans) do
    local body = store_sync.body { first = interval.parse_date(sp.first), last = interval.parse_date(sp.last) }
    calls[i] = { flow = flows.by_name.aggregates, params = {}, opts = {}, body = body,
                 name = format("job %d of %d: %s", i, #p.spans, span_text(sp.first, sp.last)) }
  end
  if calls[1] then
    calls[1].days_text = format("%s to fetch, in %d job%s", days_text(p.fetch), #calls, #calls == 1 and "" or "s")
  end
  return calls
end

local function dry_run_text(args, s, orgs)
  local list, where, exists = plans(args, s, orgs)
  local refresh = args.refresh_days or store_sync.DEFAULT_REFRESH_DAYS
  local out = { format("# %s sync --dry-run: the plan is read from the store %s%s; nothing is written, nothing " ..
                       "is sent (not even a login)", NAME, where,
                       exists and " (opened read-only, no lock taken)" or
                       ", which does not exist yet (a sync would create it)") }
  for i, o in ipairs(orgs) do
    local p = list[i]
    for _, l in ipairs(plan_lines(p, o, refresh)) do out[#out + 1] = l end
    if p.fetch > 0 then
      for l in dryrun.text(M.name, o.creds, plan_calls(p)):gmatch("[^\n]+") do out[#out + 1] = l end
    end
  end
  for i, l in ipairs(out) do out[i] = s.term:clean(l) end -- (the secrets of the run, one line each)
  return concat(out, "\n") .. "\n"
end

local function dry_run_json(args, s, orgs)
  local list, where, exists = plans(args, s, orgs)
  local clean = cleaner(s)
  local docs = json.array()
  for i, o in ipairs(orgs) do
    local p = list[i]
    docs[i] = {
      org = clean(o.label), profile = clean(o.profile), days = days_json(clean, p.first, p.last),
      stored = p.stored, fetch = p.fetch, lacking = p.lacking,
      refreshed = p.refreshed and days_json(clean, p.refreshed.first, p.refreshed.last) or json.null,
      jobs = spans_json(clean, p.spans, function(x, sp)
        x.interval = clean(interval.days_of(interval.parse_date(sp.first), interval.parse_date(sp.last)).jobs)
      end),
    }
  end
  return json.encode { command = "sync", dryRun = true, store = clean(where), storeExists = exists, sent = false,
                       status = 0, orgs = docs } .. "\n"
end

---------------------------------------------------------------------------------------------------

function M.run(args, s)
  local fmt = args.format or "text"
  local orgs = connection.orgs(args, s.term, args.org)
  for _, o in ipairs(orgs) do o.label = o.label or DEFAULT_ORG end
  if args.dry_run then
    io.stdout:write(fmt == "json" and dry_run_json(args, s, orgs) or dry_run_text(args, s, orgs))
    return
  end
  connection.note(orgs[1].creds, s.term)
  local list, labels = {}, {}
  for i, c in ipairs(connection.clients(args, orgs, s.term)) do
    list[i] = { client = c, org = orgs[i].label, profile = orgs[i].profile }
    labels[i] = orgs[i].label
  end
  local st = store_opt.open(args, M.name, { required = true, term = s.term, lock_wait = args.lock_wait or LOCK_WAIT })
  s.term:note(format("syncing %s into %s", concat(labels, ", "), st.where))

  local opts = { now = math.floor(s.now), refresh_days = args.refresh_days, on_progress = progress(s, labels) }
  local summaries, errs
  if #list == 1 then
    local sm, err = st:sync(list[1].client, { org = list[1].org, now = opts.now, refresh_days = opts.refresh_days,
                                               on_progress = opts.on_progress })
    summaries, errs = { sm }, { err }
  else
    summaries, errs = st:sync_orgs(list, opts)
  end
  s.term:done()
  for _, item in ipairs(list) do item.client:close() end
  local held = {}
  for _, o in ipairs(st:orgs() or {}) do held[o.org] = o end
  local first_err, failed
  local items = {}
  for i, item in ipairs(list) do
    local sm = summaries[i] or (type(errs[i]) == "table" and errs[i].summary) or nil
    items[i] = { org = item.org, profile = item.profile, summary = sm, held = held[item.org], err = errs[i] }
    if errs[i] ~= nil then
      failed = (failed or 0) + 1
      first_err = first_err or { err = errs[i], org = item.org }
    end
    if sm and fmt == "text" then io.stdout:write(s.term:clean(summary_line(sm, held[item.org], st.where)), "\n") end
  end
  if fmt == "json" then io.stdout:write(run_json(s, items, st.where)) end
  io.stdout:flush()
  st:close()
  if first_err then
    local context = #list > 1 and ("org " .. first_err.org ..
                    (failed > 1 and format(" (and %d more org%s failed)", failed - 1, failed > 2 and "s" or "") or ""))
    store_opt.fail(first_err.err, M.name, context or nil)
  end
end

return M
