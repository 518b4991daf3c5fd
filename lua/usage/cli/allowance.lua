-- usage.cli.allowance: the orgs' fair-use allowance (usage.forecast.allowance), as an option group: the
-- licences (--licenses cx3=1000,cx1=50) or the contract's figure (--allowance 140000000), each for one
-- org of the run (ORG=...) or for every org that has none of its own.
--   allowance.add(cmd)                   -- the Fair-use allowance group of an argparse command
--   local any = allowance.read(args, orgs)   -- orgs (usage.cli.connection.orgs) get o.allowance; whether
--                                        -- any was given. A value that cannot be read, an ORG= that is no
--                                        -- org of the run, an org left without one: usage errors.

local forecast = require "usage.forecast"
local failure = require "usage.cli.failure"

local M = {}

local format, concat = string.format, table.concat

-- add(cmd): --licenses and --allowance, repeatable ([ORG=]...)
function M.add(cmd)
  cmd:group("Fair-use allowance",
    cmd:option("--licenses", "the orgs' licences, whose fair-use allowance the forecast uses (e.g. cx3=1000,cx1=50; tiers: " ..
                             forecast.licenses.known() .. "); ORG= for one org of the run (repeatable)")
       :argname("[ORG=]TIER=SEATS,..."):count("*"):init(nil),
    cmd:option("--allowance", "the orgs' monthly fair-use allowance in requests (the contract's figure; wins over " ..
                              "--licenses); ORG= for one org of the run (repeatable)")
       :argname("[ORG=]N"):count("*"):init(nil))
end

-- the values of a repeatable [ORG=]VALUE flag: by org label, and the one for every org (nil when not given).
-- has_org(v) -> org, value | nil: whether v starts with ORG=
local function per_org(orgs, values, flag, has_org, command)
  local by_org, default = {}, nil
  local labels, known = {}, {}
  for i, o in ipairs(orgs) do
    labels[i] = o.label
    known[o.label] = true
  end
  for _, v in ipairs(values or {}) do
    local org, value = has_org(v)
    if org then
      if not known[org] then
        failure.usage(format("--%s %s: %s is not an org of this run (orgs: %s)", flag, v, org, concat(labels, ", ")),
                      command)
      end
      if by_org[org] then failure.usage(format("--%s: org %s is given twice", flag, org), command) end
      by_org[org] = value
    else
      if default then failure.usage(format("--%s is given twice without ORG=", flag), command) end
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

-- read(args, orgs) -> whether any allowance was given: then each org's (orgs[i].allowance, a
-- usage.forecast.allowance) from --licenses and --allowance
function M.read(args, orgs)
  local lic, lic_all = per_org(orgs, args.licenses, "licenses", licenses_org, args.command)
  local alw, alw_all = per_org(orgs, args.allowance, "allowance", allowance_org, args.command)
  if not (lic_all or alw_all or next(lic) or next(alw)) then return false end
  for _, o in ipairs(orgs) do
    local spec
    if lic[o.label] or alw[o.label] then -- (an org's own values beat those for every org)
      spec = { licenses = lic[o.label], allowance = alw[o.label] }
    else
      spec = { licenses = lic_all, allowance = alw_all }
    end
    if spec.licenses == nil and spec.allowance == nil then
      failure.usage(format("no allowance for org %s: give --allowance %s=N or --licenses %s=TIER=SEATS (or a " ..
                           "value without ORG= for every org)", o.label, o.label, o.label), args.command)
    end
    local a, why = forecast.allowance(spec)
    if not a then
      failure.usage(format("%s%s", #orgs > 1 and ("org " .. o.label .. ": ") or "",
                           (spec.allowance and "--allowance: " or "--licenses: ") .. why), args.command)
    end
    o.allowance = a
  end
  return true
end

return M
