-- genesys-usage sync: bring the history store (usage.store) up to date with the Usage API, for one org or
-- several at once (--profile a --profile b, --all-profiles: one client each, run together by
-- store:sync_orgs). The first run backfills the whole UTC days the service serves (the last year); later
-- runs fetch the days the store lacks and the last --refresh-days again. A day is stored whole or not at
-- all, so an interrupted run leaves whole days and the next one continues. Progress on a terminal (jobs,
-- days, rows per org), nothing otherwise; on stdout one line per org: what was added and replaced, and the
-- days the store now holds for it. This module reads the flags and reports: the work is usage.store's.
local params = require "usage.api.params"
local interval = require "usage.base.interval"
local thousands = require("usage.base.text").thousands
local store_sync = require "usage.store.sync"
local help = require "usage.cli.help"
local connection = require "usage.cli.connection"
local store_opt = require "usage.cli.store"
local term = require "usage.cli.term"
local failure = require "usage.cli.failure"

local M = { name = "sync" }

local format, concat = string.format, table.concat

local DEFAULT_ORG = "default"
local LOCK_WAIT = 30

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
           "permission (the store cannot be written), 2 usage, 1 anything else (not a store, a full disk).",
    examples = {
      "--org acme",
      "--store /var/lib/genesys-usage/usage.sqlite3 --quiet",
      "--all-profiles --store postgresql://usage@db.example.com/usage",
      "--profile acme --profile globex --refresh-days 7",
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
  store_opt.add(cmd, { required = true })
  connection.add(cmd, { orgs = true })
  term.add(cmd)
  return cmd
end

-- the progress line: each org's jobs, days and rows
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
    if p.state == "failed" then
      s.term:note(format("%sjob of %s..%s failed: %s", #labels > 1 and ("org " .. p.org .. ": ") or "",
                         tostring(p.first), tostring(p.last), tostring(p.error)))
    end
  end
end

-- what the store holds of an org now: "1 January - 5 December 2026 (339 days)" or "... (300 of 339 days)"
local function holding(held)
  if not held or not held.first_day then return "no day" end
  local a, b = interval.parse_date(held.first_day), interval.parse_date(held.last_day)
  local span = b - a + 1
  local n = tonumber(held.days_stored) or 0
  local label = interval.label(a, b)
  if n == span then return format("%s (%d day%s)", label, n, n == 1 and "" or "s") end
  return format("%s (%d of %d days: %d missing)", label, n, span, span - n)
end

-- one line of an org's summary (a failed sync's summary too)
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
    local a, b = f.first and interval.parse_date(f.first), f.last and interval.parse_date(f.last)
    if a and b then lost[#lost + 1] = format("%s (%d day%s)", interval.label(a, b), b - a + 1, b == a and "" or "s") end
  end
  if #lost > 0 then line = line .. "; not stored (the next run fetches them): " .. concat(lost, ", ") end
  return line
end

function M.run(args, s)
  local orgs = connection.orgs(args, s.term, args.org)
  for _, o in ipairs(orgs) do o.label = o.label or DEFAULT_ORG end
  connection.note(orgs[1].creds, s.term)
  local list, labels = {}, {}
  for i, c in ipairs(connection.clients(args, orgs, s.term)) do
    list[i] = { client = c, org = orgs[i].label }
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
  for i, item in ipairs(list) do
    local sm = summaries[i] or (type(errs[i]) == "table" and errs[i].summary)
    if sm then io.stdout:write(summary_line(sm, held[item.org], st.where), "\n") end
    if errs[i] ~= nil then
      failed = (failed or 0) + 1
      first_err = first_err or { err = errs[i], org = item.org }
    end
  end
  io.stdout:flush()
  st:close()
  if first_err then
    local context = #list > 1 and ("org " .. first_err.org ..
                    (failed > 1 and format(" (and %d more org%s failed)", failed - 1, failed > 2 and "s" or "") or ""))
    store_opt.fail(first_err.err, M.name, context or nil)
  end
end

return M
