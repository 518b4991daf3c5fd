-- genesys-usage metrics: the Prometheus text exposition (usage.prometheus) of the usage per OAuth client
-- for the last complete UTC day and for the month to date, with the collector's figures and what the
-- client saw; every series carries an `org` label. Month to date is the 1st of yesterday's month through
-- yesterday, so on the 1st of a month it is still the whole previous month. One aggregates job by day
-- gives both periods (yesterday is its last day); with an allowance (--licenses, --allowance) the same job
-- reaches back to the 1st of last month and also feeds the fair-use forecast's gauges (usage.forecast).
-- Several orgs in one run (--profile a --profile b, --all-profiles): one client per org, their jobs run at
-- once (usage.prometheus.collect_orgs), one exposition. With --output FILE the file is replaced
-- atomically, as node_exporter's textfile collector needs; a failed run (any org) leaves it as it was.
-- This module only reads the flags and reports: the work is usage.prometheus's (collect_orgs, render_orgs).
local flows = require "usage.flows"
local prometheus = require "usage.prometheus"
local forecast = require "usage.forecast"
local run = require "usage.cli.run"
local flags = require "usage.cli.flags"
local failure = require "usage.cli.failure"
local days_mod = require "usage.cli.days"
local credentials = require "usage.cli.credentials"
local dryrun = require "usage.cli.dryrun"
local thousands = require("usage.base.text").thousands

local format, concat = string.format, table.concat

local M = {
  name = "metrics",
  many_profiles = true, -- --profile is repeatable: one org per profile
  summary = "Prometheus metrics of the usage per OAuth client (yesterday, month to date), per org.",
  about = "Prometheus metrics of the usage per OAuth client: the last complete UTC day and the month to date " ..
          "(the 1st of yesterday's month through yesterday: on the 1st of a month, the whole previous month), " ..
          "the collector's figures and the client's own (requests, retries, 429s, logins, rate-limit headers). " ..
          "Every series carries an org label: --org LABEL, else the profile's name, else \"default\". With an " ..
          "allowance (--licenses, --allowance) also the fair-use forecast's gauges: month to date, projection " ..
          "and band, allowance.",
  more = "Write them for node_exporter's textfile collector with --output (atomic). Several orgs in one run: " ..
         "--profile a --profile b, or --all-profiles (every profile of ~/.gc/config.toml), queried at once, " ..
         "one exposition. A failed run (any org) exits non-zero (75: try again later, 77: credentials or " ..
         "permission, 1: anything else) and leaves the file as it was: alert on the age of " ..
         "genesys_usage_collect_success_timestamp_seconds. --allowance ORG=N and --licenses ORG=TIER=SEATS " ..
         "give one org its allowance; without ORG= the value is for every org that has none of its own.",
  examples = {
    "--verbose",
    "--output /var/lib/prometheus/node-exporter/genesys_usage.prom --quiet",
    "--profile acme --licenses cx3=1000 --output /var/lib/prometheus/node-exporter/genesys_usage.prom --quiet",
    "--all-profiles --allowance acme=140000000 --allowance globex=75000000 --output usage.prom",
  },
  extra = {
    { name = "max-clients", arg = "N", convert = flags.number("max-clients", { min = 1, max = 1e6 }, true),
      doc = string.format("at most N OAuth-client series per period; the rest are summed as client_id=\"other\" " ..
                          "(default %d)", prometheus.DEFAULT_MAX_CLIENTS) },
    { name = "org", arg = "LABEL", convert = function(v)
        if v == "" or v:find("%c") then return nil, "--org: expected a label (no control characters)" end
        return v
      end,
      doc = "the org label of every series (one org); default: the --profile name, else \"default\"" },
    { name = "all-profiles",
      doc = "one org per profile of the gc CLI's ~/.gc/config.toml, each labelled with the profile's name" },
    { name = "licenses", arg = "[ORG=]TIER=SEATS,...", repeatable = true,
      doc = "the orgs' licences, for the fair-use forecast's gauges (e.g. cx3=1000,cx1=50; tiers: " ..
            forecast.licenses.known() .. "); ORG= for one org of the run (repeatable)" },
    { name = "allowance", arg = "[ORG=]N", repeatable = true,
      doc = "the orgs' monthly fair-use allowance in requests (the contract's figure; wins over --licenses); " ..
            "ORG= for one org of the run (repeatable)" },
  },
}

-- the orgs of the run: ctx.orgs = { { label, profile, creds, allowance }, ... }; returns the first org's
-- credentials (the run's own, for what the command line does with one)
function M.credentials(ctx)
  local o = ctx.options
  local profiles = o.profile -- (an array: the flag is repeatable here)
  local function usage(message) failure.usage(message, M.name) end
  if o["all-profiles"] and profiles then usage("--all-profiles takes every profile: leave out --profile") end
  local orgs = {}
  if o["all-profiles"] or (profiles and #profiles > 1) then
    if o.org then
      usage("--org labels one org; with several profiles each org is labelled with its profile's name")
    end
    local list, why = credentials.resolve_many { profiles = profiles, all = o["all-profiles"], region = o.region,
                                                 base_url = o["base-url"] }
    if not list then return nil, why end
    for i, p in ipairs(list) do
      if p.profile:find("%c") then -- (a label of the exposition: one line)
        usage(string.format("profile %q: a name with control characters cannot be an org label", p.profile))
      end
      orgs[i] = { label = p.profile, profile = p.profile, creds = p.creds }
    end
  else
    local profile = profiles and profiles[1]
    local creds, why = credentials.resolve { profile = profile, region = o.region, base_url = o["base-url"] }
    if not creds then return nil, why end
    local label = o.org or profile or prometheus.DEFAULT_ORG
    if label:find("%c") then
      usage(string.format("profile %q: a name with control characters cannot be an org label; give --org LABEL",
                          label))
    end
    orgs[1] = { label = label, profile = profile, creds = creds }
  end
  for i = 2, #orgs do
    for _, s in ipairs(orgs[i].creds.secrets) do ctx.term:secret(s) end
  end
  ctx.orgs = orgs
  return orgs[1].creds
end

-- the values of a repeatable [ORG=]VALUE flag: by org label, and the one for every org (nil when not given).
-- has_org(v) -> org, value | nil: whether v starts with ORG=
local function per_org(ctx, flag, has_org)
  local by_org, default = {}, nil
  local labels, known = {}, {}
  for i, o in ipairs(ctx.orgs) do
    labels[i] = o.label
    known[o.label] = true
  end
  for _, v in ipairs(ctx.options[flag] or {}) do
    local org, value = has_org(v)
    if org then
      if not known[org] then
        failure.usage(format("--%s %s: %s is not an org of this run (orgs: %s)", flag, v, org, concat(labels, ", ")),
                      M.name)
      end
      if by_org[org] then failure.usage(format("--%s: org %s is given twice", flag, org), M.name) end
      by_org[org] = value
    else
      if default then failure.usage(format("--%s is given twice without ORG=", flag), M.name) end
      default = v
    end
  end
  return by_org, default
end

-- "acme=140000000" -> "acme", "140000000"; "140000000" -> nil
local function allowance_org(v)
  local org, value = v:match("^([^=]*)=(.*)$")
  if org then return org, value end
  return nil
end

-- "acme=cx3=1000,cx1=50" -> "acme", "cx3=1000,cx1=50" (the first item has two '='); "cx3=1000" -> nil
local function licenses_org(v)
  local org, value = v:match("^([^=,]*)=([^=,]*=.*)$")
  if org then return org, value end
  return nil
end

-- each org's allowance (ctx.orgs[i].allowance) from --licenses and --allowance; ctx.forecast when any
local function allowances(ctx)
  local lic, lic_all = per_org(ctx, "licenses", licenses_org)
  local alw, alw_all = per_org(ctx, "allowance", allowance_org)
  if not (lic_all or alw_all or next(lic) or next(alw)) then return end
  for _, o in ipairs(ctx.orgs) do
    local spec
    if lic[o.label] or alw[o.label] then -- (an org's own values beat those for every org)
      spec = { licenses = lic[o.label], allowance = alw[o.label] }
    else
      spec = { licenses = lic_all, allowance = alw_all }
    end
    if spec.licenses == nil and spec.allowance == nil then
      failure.usage(format("no allowance for org %s: give --allowance %s=N or --licenses %s=TIER=SEATS (or a " ..
                           "value without ORG= for every org)", o.label, o.label, o.label), M.name)
    end
    local a, why = forecast.allowance(spec)
    if not a then
      failure.usage(format("%s%s", #ctx.orgs > 1 and ("org " .. o.label .. ": ") or "",
                           (spec.allowance and "--allowance: " or "--licenses: ") .. why), M.name)
    end
    o.allowance = a
  end
  ctx.forecast = true
end

function M.prepare(ctx)
  allowances(ctx)
  local plan, why = prometheus.plan { now = ctx.now, forecast = ctx.forecast }
  if not plan then failure.usage(why, M.name) end
  ctx.plan = plan
  ctx.days = plan.span
  local ok, err = days_mod.check_job_start(ctx.days, ctx.now)
  if not ok then failure.usage(err, M.name) end
  ctx.days_text = "last complete day " .. plan.day.label .. "; month to date " .. days_mod.describe(plan.month)
  if plan.forecast then
    ctx.days_text = ctx.days_text .. "; the forecast reads " .. days_mod.describe(plan.forecast) ..
                    " (last month to compare, the last 28 days for the run rate; today is never counted)" ..
                    (plan.span.first ~= plan.forecast.first and ("; one job over " .. days_mod.describe(plan.span)) or
                     ", one job for both")
  end
end

function M.calls(ctx)
  return { { flow = flows.by_name.aggregates, params = {}, name = "metrics", opts = {},
             body = prometheus.job_body(ctx.plan) } }
end

-- --dry-run: the requests of each org (its credentials, its allowance), nothing sent
function M.dry_run(ctx)
  local out = {}
  for _, o in ipairs(ctx.orgs) do
    local sub = setmetatable({ creds = o.creds }, { __index = ctx })
    local text = dryrun.text(sub, M.calls(ctx))
    local head = "# org " .. o.label .. (o.profile and (" (profile " .. o.profile .. ")") or "")
    if o.allowance then head = head .. "; allowance " .. o.allowance.label end
    out[#out + 1] = head .. "\n" .. text
  end
  return concat(out, "\n")
end

-- a redactor that hides the secrets of every client of the run (the terminal's lines pass through it)
local function chain(redactors)
  return {
    add = function(_, s) for _, r in ipairs(redactors) do r:add(s) end end,
    text = function(_, s)
      for _, r in ipairs(redactors) do s = r:text(s) end
      return s
    end,
  }
end

-- the failure of an org that failed: its message names the org when the run has several
local function org_failure(ctx, figures, failed)
  local err = figures.err
  if type(err) == "table" and err.code == "interrupted" then failure.signal(err.signal) end
  if #ctx.orgs == 1 then failure.from_error(err, M.name) end
  local more = failed > 1 and format(" (and %d more org%s failed)", failed - 1, failed > 2 and "s" or "") or ""
  local usage = require "usage"
  if type(err) == "table" and usage.is_error(err) then
    failure.runtime(format("org %s: error: %s%s", figures.org, (tostring(err):gsub("^usage: ", "")), more),
                    failure.status_of(err))
  end
  failure.runtime(format("org %s: error: %s%s", figures.org, tostring(err), more))
end

function M.run(ctx)
  local redactors = { ctx.term.redactor }
  local orgs, profile_of = {}, {}
  for i, o in ipairs(ctx.orgs) do
    local c = run.new_client(ctx, o.creds)
    redactors[#redactors + 1] = c.redact
    orgs[i] = { org = o.label, client = c, allowance = o.allowance }
    profile_of[o.label] = o.profile
  end
  ctx.term:redact_with(chain(redactors))
  ctx.clients = orgs

  -- the progress line, and each job's id as a note, with the command that reads it again
  ctx.jobs = ctx.jobs or {}
  local several = #orgs > 1
  local track = ctx.term:tracker(M.name, function(id, label)
    local profile = profile_of[label]
    local again = failure.PROG .. " aggregates" .. (profile and (" --profile " .. profile) or "") .. " --job " .. id
    -- (a failed run lists every job on its error line, with one command for all: each id names its org)
    ctx.jobs[#ctx.jobs + 1] = several and { id = id .. " (org " .. label .. ")",
                                            again = failure.PROG .. " aggregates --profile ORG --job " .. id }
                                       or { id = id, again = again }
    ctx.term:note(format("%sjob %s started (read it again with: %s)", several and ("org " .. label .. ": ") or "", id,
                         again))
  end)
  local list = prometheus.collect_orgs(orgs, { now = ctx.now, on_progress = function(label) return track(label) end })
  ctx.term:done()
  failure.check()
  local failed, first
  for _, figures in ipairs(list) do
    if figures.err then
      failed = (failed or 0) + 1
      first = first or figures
    end
  end
  if first then org_failure(ctx, first, failed) end -- (no org is written when one fails: the file stays as it was)

  local problems = {}
  for _, figures in ipairs(list) do
    figures.max_clients = ctx.options["max-clients"]
    figures.problems = problems
  end
  local text = prometheus.render_orgs(list)
  if problems[1] then failure.runtime(problems[1]) end -- (a wrong total is never published)
  ctx.out.fh:write(text)
  for _, o in ipairs(orgs) do o.client:close() end
  for _, figures in ipairs(list) do
    local f = figures.forecast
    if f then
      ctx.term:note(format("%sforecast of %s: month to date %s over %s, projection %s, allowance %s",
                           several and ("org " .. figures.org .. ": ") or "", f.month.name,
                           thousands(f.month_to_date.requests), f.month_to_date.days.label,
                           f.projection and thousands(f.projection.requests) or "none (no history)",
                           thousands(f.allowance.requests)))
    end
  end
end

return M
