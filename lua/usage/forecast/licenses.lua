-- usage.forecast.licenses: the monthly fair-use API allowance of an organization, from its licences (a
-- table of per-user figures, kept here as data) or from an explicit figure (the contract is the authority).
--
--   local licenses = require "usage.forecast.licenses"
--   local list, err = licenses.parse("cx3=1000,cx1=50,cx3-concurrent=200")
--   local a, err = licenses.allowance { licenses = "cx3=1000" }   -- or { allowance = 140000000 }, or both
--   a.requests --> 140000000;  a.label --> "1,000 CX 3 named x 140,000"
--
-- Errors in what a user typed come back as nil, message (the message lists what is accepted); wrong
-- argument types raise.

local M = {}

-- Where the figures come from, and what they are.
M.SOURCE = "Genesys Resource Center, \"Genesys Cloud fair use policy\": API on-demand allowance per billable " ..
           "user per month, by licence tier"

-- The tiers, in display order. named / concurrent: API requests per user and month for a named or a
-- concurrent seat of the tier (nil: the tier is sold one way only). aliases: other spellings of the key.
M.TIERS = {
  { key = "communicate", name = "Communicate", named = 10000 },
  { key = "cx1", name = "CX 1", named = 75000, concurrent = 97500 },
  { key = "cx2", name = "CX 2 / CX 2 Digital", named = 110000, concurrent = 143000,
    aliases = { "cx2-digital", "cx2digital" } },
  { key = "cx3", name = "CX 3 / CX 3 Digital", named = 140000, concurrent = 182000,
    aliases = { "cx3-digital", "cx3digital" } },
  { key = "ex", name = "EX", named = 75000 },
}

-- the largest number of seats one item may have (a typo guard: no organization has ten million agents)
local MAX_SEATS = 10000000

local by_key = {}
for _, t in ipairs(M.TIERS) do
  by_key[t.key] = t
  for _, a in ipairs(t.aliases or {}) do by_key[a] = t end
end
M.by_key = by_key

local thousands = require("usage.base.text").thousands
M.thousands = thousands

-- the spellings accepted, for error messages and help: "communicate, cx1, cx2 (or cx2-digital), ..."
function M.known()
  local parts = {}
  for _, t in ipairs(M.TIERS) do
    local p = t.key
    if t.aliases then p = p .. " (or " .. table.concat(t.aliases, ", ") .. ")" end
    parts[#parts + 1] = p
  end
  return table.concat(parts, ", ")
end

-- "1000", "1_000", "1,000" (seps: the separators allowed, one kind per number, groups of three) ->
-- the number | nil
local function whole(s, seps)
  if s:match("^%d+$") then return tonumber(s) end
  local head, sep = s:match("^(%d%d?%d?)([" .. seps .. "])")
  if not head then return nil end
  local rest = (s:sub(#head + 1):gsub("%" .. sep .. "%d%d%d", ""))
  if rest ~= "" then return nil end
  return tonumber((s:gsub("%" .. sep, "")))
end

local HINT = "; add -concurrent for concurrent seats (cx3-concurrent=200); for another tier or a contract " ..
             "figure give the allowance itself"

-- one item "cx3=1000" / "cx3-concurrent=200" / "CX3-Named = 10" -> { tier =, type =, seats =, per_seat =,
-- requests = } | nil, message
local function parse_item(item)
  local name, count = item:match("^%s*([^=]-)%s*=%s*(.-)%s*$")
  if not name then
    return nil, "expected TIER=SEATS (e.g. cx3=1000), got '" .. item .. "'"
  end
  if name == "" then return nil, "no licence tier before '=' in '" .. item .. "'" end
  local lname = name:lower():gsub("_", "-"):gsub("%s+", "-")
  local kind = "named"
  local base = lname:match("^(.-)%-concurrent$")
  if base then
    kind, lname = "concurrent", base
  else
    base = lname:match("^(.-)%-named$")
    if base then lname = base end
  end
  local tier = by_key[lname]
  if not tier then
    return nil, "unknown licence tier '" .. name .. "' (known: " .. M.known() .. HINT .. ")"
  end
  local per_seat = tier[kind]
  if not per_seat then
    return nil, tier.name .. " has no " .. kind .. " figure in the table (it lists " .. tier.name ..
                " named seats only)"
  end
  local seats = whole(count, "_")
  if not seats then
    return nil, "the seats of " .. name .. " must be a whole number (1000 or 1_000), got '" .. count .. "'"
  end
  if seats > MAX_SEATS then
    return nil, "the seats of " .. name .. " must be at most " .. thousands(MAX_SEATS) .. ", got '" .. count .. "'"
  end
  return { tier = tier.key, name = tier.name, type = kind, seats = seats, per_seat = per_seat,
           requests = seats * per_seat }
end

-- parse("cx3=1000,cx1=50") -> array of items (see parse_item), in the order given | nil, message.
-- A tier and type given twice is an error (say the sum instead).
function M.parse(text)
  if type(text) ~= "string" then error("usage.forecast.licenses.parse: expects a string", 2) end
  if text:match("^%s*$") then
    return nil, "no licences given (expected TIER=SEATS[,TIER=SEATS...], e.g. cx3=1000,cx1=50)"
  end
  local out, seen = {}, {}
  for item in (text .. ","):gmatch("([^,]*),") do
    if item:match("^%s*$") then
      return nil, "an empty item in '" .. text .. "' (expected TIER=SEATS[,TIER=SEATS...])"
    end
    if item:match("^%s*%d+%s*$") and #out > 0 then
      return nil, "'" .. item:match("%d+") .. "' is not TIER=SEATS: write seat counts without commas " ..
                  "(cx3=1000 or cx3=1_000)"
    end
    local it, why = parse_item(item)
    if not it then return nil, why end
    local key = it.tier .. "/" .. it.type
    if seen[key] then
      return nil, it.name .. " " .. it.type .. " seats are given twice: give their sum once"
    end
    seen[key] = true
    out[#out + 1] = it
  end
  return out
end

-- label of a parsed list: "1,000 CX 3 / CX 3 Digital named x 140,000 + 50 CX 1 named x 75,000"
function M.label(list)
  local parts = {}
  for _, it in ipairs(list) do
    parts[#parts + 1] = string.format("%s %s %s x %s", thousands(it.seats), it.name, it.type, thousands(it.per_seat))
  end
  return table.concat(parts, " + ")
end

-- an explicit allowance: a positive whole number, as a number or as text ("140000000", "140_000_000",
-- "140,000,000") -> number | nil, message
function M.parse_allowance(v)
  local n
  if type(v) == "number" then
    n = v
  elseif type(v) == "string" then
    n = whole(v:match("^%s*(.-)%s*$"), ",_")
    if not n then
      return nil, "the allowance must be a whole number of requests a month (e.g. 140000000 or 140,000,000), got '" ..
                  v .. "'"
    end
  else
    error("usage.forecast.licenses.parse_allowance: expects a number or a string", 2)
  end
  if n == n and n >= 2 ^ 53 then -- (a figure beyond every real contract: not "above 0", as it said)
    return nil, "the allowance must be a whole number of requests below 2^53 (9,007,199,254,740,992), got " ..
                tostring(v)
  end
  if n ~= n or n <= 0 or n ~= math.floor(n) then
    return nil, "the allowance must be a whole number of requests above 0, got " .. tostring(v)
  end
  return n
end

--[[ allowance(spec) -> allowance | nil, message
  spec.licenses   "cx3=1000,..." or a list from parse()
  spec.allowance  an explicit figure (number or text): the contract is the authority, so it wins when both
                  are given (the licences' figure is kept as `licenses_requests` for comparison)
  allowance = { requests =, source = "licenses" | "explicit", label =, licenses = list | nil,
                licenses_requests = number | nil, per = "month", table_source = M.SOURCE }
]]
function M.allowance(spec)
  if type(spec) ~= "table" then error("usage.forecast.licenses.allowance: expects a table", 2) end
  local list, why
  if spec.licenses ~= nil then
    if type(spec.licenses) == "string" then
      list, why = M.parse(spec.licenses)
      if not list then return nil, why end
    elseif type(spec.licenses) == "table" then
      list = spec.licenses
    else
      error("usage.forecast.licenses.allowance: licenses must be a string or a list", 2)
    end
  end
  local from_list
  if list then
    from_list = 0
    for _, it in ipairs(list) do from_list = from_list + it.requests end
  end
  if spec.allowance ~= nil then
    local n, why2 = M.parse_allowance(spec.allowance)
    if not n then return nil, why2 end
    local label = thousands(n) .. " requests a month (explicit)"
    if from_list then label = label .. "; the licences (" .. M.label(list) .. ") give " .. thousands(from_list) end
    return { requests = n, source = "explicit", label = label, licenses = list, licenses_requests = from_list,
             per = "month", table_source = M.SOURCE }
  end
  if not list then
    return nil, "no allowance: give the licences (e.g. cx3=1000) or the allowance in requests a month"
  end
  if from_list <= 0 then
    return nil, "the licences (" .. M.label(list) .. ") give an allowance of 0 requests"
  end
  return { requests = from_list, source = "licenses", label = M.label(list), licenses = list,
           licenses_requests = from_list, per = "month", table_source = M.SOURCE }
end

return M
