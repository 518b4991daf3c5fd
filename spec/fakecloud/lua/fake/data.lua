-- fake.data: the deterministic, seeded usage data set of the fake cloud.
--
-- Nothing is stored per date: the usage of a "stream" (organization, OAuth client, templateUri, HTTP method,
-- platform, user) on a day is a pure function of (SEED, stream, day). Every run gives the same numbers.

local util = require "fake.util"

local floor = math.floor
local hash, rand = util.hash, util.rand

local M = {}

M.SEED = 20250331
M.FIRST_DAY = util.days_from_civil(2020, 1, 1) -- no usage before this day

M.orgs = {
  { id = "d89a08f4-0a78-436c-9a69-7f980fb26104", name = "Acme Contact Center", home = true },
  { id = "4f43d963-191b-4c33-ae0d-d1a50d5d8ced", name = "Globex Support" },
  { id = "ac8982b8-acaa-4b14-b8d8-ef85cef8afa2", name = "Initech EMEA" },
  { id = "d18e15cc-8db7-4b21-9973-1a8aebf4df0f", name = "Umbrella Care" },
}
M.home_org = M.orgs[1]

-- users = true: the client acts for users (code / implicit grant), rows carry a user.
-- orgs: organizations in which the client is used (1 = the home organization).
M.clients = {
  { id = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac", name = "Acme Reporting", platform = "PublicAPI" },
  { id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", name = "Bulk Export Service", platform = "PublicAPI",
    heavy = true, orgs = { 1, 2 } },
  { id = "ea8daa86-ffc1-4dfe-bb50-9dba32f8cf2e", name = "Équipe Reporting", platform = "WebApp", users = true },
  { id = "eb2d3ce9-febd-4953-b9a4-32e740f7077d", name = "データ同期 bot", platform = "Integrations",
    orgs = { 1, 3 } },
  { id = "952610ff-6331-45b6-a52b-5c14ddc84aa0", name = "WFM Sync", platform = "Integrations" },
  { id = "81179876-d703-4eec-a8c8-63e6a6a1d99c", name = "CRM Connector", platform = "Integrations" },
  { id = "8363de68-d5bf-4914-bb5a-45e74fbd16f0", name = "Data Lake Loader", platform = "PublicAPI" },
  { id = "adfe674a-1fd0-4f70-955b-ab3225e60c8f", name = "Quality Dashboard", platform = "WebApp", users = true },
  { id = "1b5b412e-458b-4c08-9900-a3800174f286", name = "Wallboard", platform = "WebApp", users = true },
  { id = "8d1fa1df-729c-4e2d-85a0-59b2ea771f62", name = "Speech Analytics ETL", platform = "PublicAPI" },
  { id = "4844310f-0aeb-4145-916d-bda10ea7da79", name = "Outbound Dialer Sync", platform = "Integrations" },
  { id = "7b3eea09-adb5-46ae-a571-e0662103749b", name = "Chat Widget Backend", platform = "PublicAPI" },
  { id = "5bb039c1-6489-402b-955f-e40fe1a58d56", name = "Partner Portal", platform = "WebApp", users = true,
    orgs = { 1, 2, 3, 4 } },
  { id = "56838715-86f7-4482-a34c-c5dc68fdf57f", name = "Salesforce Bridge", platform = "Integrations",
    users = true, orgs = { 1, 4 } },
  { id = "a85107ec-9a49-46df-89d9-98b23e1a64ae", name = "Zendesk Bridge", platform = "Integrations" },
  { id = "ac5f92f4-8667-4615-89a0-13ed9ac86dea", name = "Billing Reconciler", platform = "PublicAPI" },
  { id = "dc7ee659-9b4b-4441-bbb0-3e6148b3ac52", name = "Audit Archiver", platform = "PublicAPI" },
  { id = "5f038b5c-3252-4e8c-b1d5-a043182987c9", name = "Ops Monitor", platform = "PublicAPI" },
  { id = "c5628250-7324-4ec8-b869-02ee76376c14", name = "Mobile App", platform = "WebApp", users = true },
  { id = "53444a1d-8a4f-4dd8-8870-a3a5dc4eb96c", name = "Intranet Directory", platform = "WebApp", users = true },
  { id = "bcea6a4d-dc36-4aa7-a6ae-09ec703f03ee", name = "Survey Sender", platform = "PublicAPI" },
  { id = "c4da0ef4-30ca-4d8c-82db-80b20cad645c", name = "Callback Scheduler", platform = "Integrations" },
  { id = "ff92cd5b-1eed-480d-b07d-0116a956d9e6", name = "Recording Exporter", platform = "PublicAPI" },
  { id = "101e374e-3a31-4581-943b-4b0a5077ac41", name = "Team Lead Console", platform = "WebApp", users = true },
  { id = "339c0f84-1874-4537-baf4-ffb4300957cc", name = "QA Harness (staging)", platform = "PublicAPI" },
}

M.users = {
  "4ed31410-5f67-42d4-b852-1b1bd17f39cd", "24c43c82-2c9d-4244-b064-bf5f1a85ea92",
  "70888927-c987-4cbc-9c37-71d06411eb9a", "8240c414-1e25-41e9-b226-a8ad4097aa12",
  "691efa49-6c4c-40d6-b5ab-15322c1b0085", "8baf87da-25f2-4ab6-9350-85049987fe80",
  "b0b028c2-9309-4111-8edf-42db1e908465", "f62a9290-202d-47b4-8fe6-5c9330db7fb4",
  "281af26d-3057-4047-9fd9-b2f944c6fe39", "22439c09-6667-4aae-a95f-74d86a6be78a",
}

M.templates = {
  "api/v2/analytics/conversations/details/query",
  "api/v2/analytics/conversations/aggregates/query",
  "api/v2/analytics/users/aggregates/query",
  "api/v2/analytics/queues/observations/query",
  "api/v2/users/{userId}",
  "api/v2/users",
  "api/v2/users/{userId}/presences/purecloud",
  "api/v2/routing/queues",
  "api/v2/routing/queues/{queueId}/members",
  "api/v2/conversations/{conversationId}",
  "api/v2/conversations/calls/{conversationId}",
  "api/v2/conversations/chats",
  "api/v2/conversations/{conversationId}/recordings",
  "api/v2/recording/jobs",
  "api/v2/outbound/campaigns",
  "api/v2/outbound/contactlists/{contactListId}/contacts",
  "api/v2/workforcemanagement/managementunits",
  "api/v2/quality/evaluations/query",
  "api/v2/notifications/channels",
  "api/v2/oauth/clients",
  "api/v2/authorization/roles",
  "api/v2/groups",
  "api/v2/locations",
  "api/v2/speechandtextanalytics/topics",
  "api/v2/usage/query",
}

M.methods = { "GET", "POST", "PUT", "PATCH", "DELETE" }
M.platforms = { "PublicAPI", "WebApp", "Integrations" }

M.client_by_id = {}
M.client_by_name = {}
M.org_by_id = {}
M.user_index = {}
for i, c in ipairs(M.clients) do
  c.index = i
  c.orgs = c.orgs or { 1 }
  c.self_uri = "/api/v2/oauth/clients/" .. c.id
  M.client_by_id[c.id] = c
  M.client_by_name[c.name] = c
end
for i, o in ipairs(M.orgs) do o.index = i; M.org_by_id[o.id] = o end
for i, u in ipairs(M.users) do M.user_index[u] = i end

-- ---------------------------------------------------------------- streams

local function pick_method(r)
  if r < 0.50 then return "GET" elseif r < 0.75 then return "POST" elseif r < 0.85 then return "PUT"
  elseif r < 0.93 then return "PATCH" end
  return "DELETE"
end

local streams = {}
M.streams = streams

local function build_streams()
  local S = M.SEED
  for ci, c in ipairs(M.clients) do
    local k = 0
    local function r() k = k + 1; return rand(S, ci, 1000 + k) end
    -- distinct templates
    local order = {}
    for i = 1, #M.templates do order[i] = i end
    for i = #order, 2, -1 do
      local j = 1 + floor(r() * i)
      order[i], order[j] = order[j], order[i]
    end
    local ntpl = c.heavy and 1 or 3 + floor(r() * 6)
    for t = 1, ntpl do
      local ti = order[t]
      local methods = { pick_method(r()) }
      if r() < 0.3 then
        local m2 = pick_method(r())
        if m2 ~= methods[1] then methods[2] = m2 end
      end
      for _, method in ipairs(methods) do
        local platform = c.platform
        if r() < 0.25 then platform = M.platforms[1 + floor(r() * #M.platforms)] end
        local users = { false }
        if c.users then
          users = {}
          local nu = 1 + floor(r() * 3)
          local seen = {}
          for _ = 1, nu do
            local ui = 1 + floor(r() * #M.users)
            if not seen[ui] then seen[ui] = true; users[#users + 1] = ui end
          end
        end
        for _, ui in ipairs(users) do
          for oi_pos, oi in ipairs(c.orgs) do
            if oi_pos == 1 or r() < 0.6 then
              local scale
              if c.heavy then
                scale = 2.75e9 + floor(r() * 0.5e9) -- every day above 2^31 (x0.8 at worst)
              else
                scale = floor(10 ^ (4.3 + r() * 4.2)) -- about 20k to 300M a day
              end
              local s = {
                index = #streams + 1, org = oi, client = ci, template = ti, method = method,
                platform = platform, user = ui or nil,
                scale = scale, p = c.heavy and 1 or (0.55 + r() * 0.4), heavy = c.heavy,
              }
              s.seed = hash(S, ci, ti, s.index)
              streams[#streams + 1] = s
            end
          end
        end
      end
    end
  end
end
build_streams()

-- ---------------------------------------------------------------- usage of a day

-- A record: { day, org, client, template, method, platform, user (index or nil),
--             s200, s300, s400, s429, s500, req }
local function stream_day(s, day)
  local weekend = util.weekday(day) >= 5
  local p = s.p
  local scale = s.scale
  if weekend and not s.heavy then p = p * 0.5; scale = scale * 0.3 end
  local seed = s.seed
  if rand(seed, day, 0) >= p then return nil end
  local req
  if s.heavy then
    req = floor(scale * (0.8 + 0.4 * rand(seed, day, 1)))
  else
    req = floor(scale * (0.5 + rand(seed, day, 1))) + 1
  end
  local s500 = floor(req * 0.01 * rand(seed, day, 2))
  local s400 = floor(req * 0.06 * rand(seed, day, 3))
  local s429 = floor(s400 * 0.5 * rand(seed, day, 4))
  local s300 = floor(req * 0.02 * rand(seed, day, 5))
  local s200 = req - s500 - s400 - s300
  return {
    day = day, org = s.org, client = s.client, template = s.template, method = s.method,
    platform = s.platform, user = s.user,
    s200 = s200, s300 = s300, s400 = s400, s429 = s429, s500 = s500, req = req,
  }
end

local day_cache, day_cache_n = {}, 0
local DAY_CACHE_MAX = 800

-- All records of a day (every organization), memoised.
function M.day(day)
  local recs = day_cache[day]
  if recs then return recs end
  recs = {}
  if day < M.FIRST_DAY then return recs end -- the organizations were created on 2020-01-01
  for i = 1, #streams do
    local r = stream_day(streams[i], day)
    if r then recs[#recs + 1] = r end
  end
  if day_cache_n >= DAY_CACHE_MAX then day_cache, day_cache_n = {}, 0 end
  day_cache[day] = recs
  day_cache_n = day_cache_n + 1
  return recs
end

-- Iterate the records of [first_day, last_day] that satisfy keep(rec) (keep may be nil).
function M.each(first_day, last_day, keep, fn)
  for d = first_day, last_day do
    local recs = M.day(d)
    for i = 1, #recs do
      local r = recs[i]
      if keep == nil or keep(r) then fn(r) end
    end
  end
end

return M
