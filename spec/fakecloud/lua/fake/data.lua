-- fake.data: the deterministic, seeded usage data set of the fake cloud: a 1,000-seat CX 3 contact center
-- ("Acme Contact Center", 140 million API requests a month of fair-use allowance) and the OAuth clients that
-- spend it, at volumes a real organization sees (see the README's "The data set").
--
-- Nothing is stored per date: the usage of a "stream" (organization, OAuth client, endpoint, platform, user)
-- on a day is a pure function of (SEED, the settings below, stream, day). Settings: the runaway client's first
-- day and volume, and the count offset (a 64-bit count on purpose); changing one drops the memoised days.
-- Days from today (UTC, the fake's today) on have no usage: the service lags, today is never complete.

local util = require "fake.util"
local endpoints = require "fake.endpoints"

local floor = math.floor
local hash, rand = util.hash, util.rand

local M = {}

M.SEED = 20250331
M.FIRST_DAY = util.days_from_civil(2020, 1, 1) -- no usage before this day

-- The home organization: 1,000 named CX 3 users x 140,000 API requests a user a month.
M.SEATS, M.LICENCE, M.PER_SEAT = 1000, "CX 3", 140000
M.ALLOWANCE = M.SEATS * M.PER_SEAT -- 140,000,000 requests a month

-- scale: the volume of a multi-organization client there, relative to the home organization
M.orgs = {
  { id = "d89a08f4-0a78-436c-9a69-7f980fb26104", name = "Acme Contact Center", home = true, scale = 1 },
  { id = "4f43d963-191b-4c33-ae0d-d1a50d5d8ced", name = "Globex Support", scale = 0.45 },
  { id = "ac8982b8-acaa-4b14-b8d8-ef85cef8afa2", name = "Initech EMEA", scale = 0.3 },
  { id = "d18e15cc-8db7-4b21-9973-1a8aebf4df0f", name = "Umbrella Care", scale = 0.2 },
}
M.home_org = M.orgs[1]

-- The OAuth clients. volume: requests on a weekday in the home organization (before a +-15% daily noise);
-- weekend: the share of it on Saturdays and Sundays (0 = idle); how: why that volume is possible (a
-- client-credentials token is limited to 300 requests a minute, 432,000 a day; a user to 3,000 a minute);
-- users: the client acts for users (code or implicit grant), its rows carry a userId; orgs: the organizations
-- it is used in (1 = home); e4: share of 4xx other than 429; burst: chance of a 429 burst episode in a 4-day
-- block (the rest of the time it gets no 429); endpoints: "METHOD /path" and weight (every pair must be in
-- endpoints.tsv).
M.clients = {
  { id = "0f4e9193-0ab2-40bc-9671-10c37a5b87ac", name = "Acme Reporting", platform = "PublicAPI",
    purpose = "BI reports: conversation, agent and queue aggregates", volume = 110000, weekend = 0.3,
    how = "1 token", e4 = 0.004,
    endpoints = {
      { "POST /api/v2/analytics/conversations/aggregates/query", 45 },
      { "POST /api/v2/analytics/users/aggregates/query", 25 },
      { "POST /api/v2/analytics/queues/observations/query", 20 },
      { "GET /api/v2/routing/queues", 10 },
    } },
  { id = "e1757718-6cd5-497a-8c0a-8a7aa9d882fd", name = "Bulk Export Service", platform = "PublicAPI",
    purpose = "nightly export of conversation details and recordings", volume = 700000, weekend = 0.9,
    how = "2 client-credentials tokens in parallel (864,000 a day at the limit)", orgs = { 1, 2 }, e4 = 0.003,
    endpoints = {
      { "POST /api/v2/analytics/conversations/details/jobs", 1 },
      { "GET /api/v2/analytics/conversations/details/jobs/{jobId}", 9 },
      { "GET /api/v2/analytics/conversations/details/jobs/{jobId}/results", 30 },
      { "GET /api/v2/conversations/{conversationId}/recordings", 35 },
      { "POST /api/v2/recording/jobs", 1 },
      { "GET /api/v2/recording/jobs/{jobId}", 5 },
    } },
  { id = "ea8daa86-ffc1-4dfe-bb50-9dba32f8cf2e", name = "Équipe Reporting", platform = "WebApp", users = true,
    purpose = "the French team's dashboards", volume = 22000, weekend = 0.2, how = "users (code grant)",
    e4 = 0.005,
    endpoints = {
      { "POST /api/v2/analytics/conversations/aggregates/query", 60 },
      { "GET /api/v2/analytics/reporting/dashboards/users/{userId}", 25 },
      { "GET /api/v2/users/me", 15 },
    } },
  { id = "eb2d3ce9-febd-4953-b9a4-32e740f7077d", name = "データ同期 bot", platform = "Integrations", orgs = { 1, 3 },
    purpose = "directory sync with the Tokyo office", volume = 55000, weekend = 0.5, how = "1 token", e4 = 0.004,
    endpoints = {
      { "GET /api/v2/users", 40 },
      { "GET /api/v2/groups", 20 },
      { "GET /api/v2/routing/queues/{queueId}/members", 30 },
      { "PATCH /api/v2/users/{userId}", 10 },
    } },
  { id = "952610ff-6331-45b6-a52b-5c14ddc84aa0", name = "WFM Sync", platform = "Integrations",
    purpose = "workforce management adherence and schedules", volume = 190000, weekend = 0.6, how = "1 token",
    e4 = 0.003,
    endpoints = {
      { "GET /api/v2/workforcemanagement/managementunits/{managementUnitId}/adherence", 50 },
      { "GET /api/v2/workforcemanagement/businessunits/{businessUnitId}/weeks/{weekId}/schedules", 10 },
      { "POST /api/v2/workforcemanagement/adherence/historical/bulk", 5 },
      { "GET /api/v2/workforcemanagement/adherence/historical/bulk/jobs/{jobId}", 15 },
      { "GET /api/v2/users/{userId}/routingstatus", 20 },
    } },
  { id = "81179876-d703-4eec-a8c8-63e6a6a1d99c", name = "CRM Connector", platform = "Integrations",
    purpose = "screen pops and contact sync with the CRM", volume = 330000, weekend = 0.35,
    how = "1 token, close to its 432,000 a day: bursts of 429", e4 = 0.006, burst = 0.2,
    endpoints = {
      { "GET /api/v2/conversations/{conversationId}", 35 },
      { "GET /api/v2/externalcontacts/contacts", 25 },
      { "POST /api/v2/externalcontacts/contacts", 5 },
      { "PATCH /api/v2/externalcontacts/contacts/{contactId}", 15 },
      { "PUT /api/v2/externalcontacts/conversations/{conversationId}", 20 },
    } },
  { id = "8363de68-d5bf-4914-bb5a-45e74fbd16f0", name = "Data Lake Loader", platform = "PublicAPI",
    purpose = "conversation and user details into the data lake", volume = 420000, weekend = 0.8,
    how = "2 tokens (864,000 a day at the limit)", e4 = 0.002, burst = 0.12,
    endpoints = {
      { "POST /api/v2/analytics/conversations/details/query", 55 },
      { "POST /api/v2/analytics/users/details/query", 25 },
      { "GET /api/v2/analytics/conversations/{conversationId}/details", 20 },
    } },
  { id = "adfe674a-1fd0-4f70-955b-ab3225e60c8f", name = "Quality Dashboard", platform = "WebApp", users = true,
    purpose = "evaluations for quality managers", volume = 38000, weekend = 0.15, how = "users (code grant)",
    e4 = 0.005,
    endpoints = {
      { "GET /api/v2/quality/evaluations/query", 50 },
      { "POST /api/v2/quality/evaluations/search", 20 },
      { "GET /api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}", 30 },
    } },
  { id = "1b5b412e-458b-4c08-9900-a3800174f286", name = "Wallboard", platform = "WebApp", users = true,
    purpose = "queue wallboards on the floor, open seven days", volume = 780000, weekend = 0.55,
    how = "users: 40 wall screens signed in as supervisors, each polling every 4 s (3,000 a minute a user allowed)",
    e4 = 0.001,
    endpoints = {
      { "POST /api/v2/analytics/queues/observations/query", 70 },
      { "POST /api/v2/analytics/users/observations/query", 20 },
      { "GET /api/v2/routing/queues", 10 },
    } },
  { id = "8d1fa1df-729c-4e2d-85a0-59b2ea771f62", name = "Speech Analytics ETL", platform = "PublicAPI",
    purpose = "transcripts and topics for the analytics team", volume = 75000, weekend = 0.5, how = "1 token",
    e4 = 0.004,
    endpoints = {
      { "GET /api/v2/speechandtextanalytics/conversations/{conversationId}", 40 },
      { "GET /api/v2/speechandtextanalytics/conversations/{conversationId}/communications/{communicationId}/transcripturl", 40 },
      { "GET /api/v2/speechandtextanalytics/topics", 5 },
      { "POST /api/v2/speechandtextanalytics/transcripts/search", 15 },
    } },
  { id = "4844310f-0aeb-4145-916d-bda10ea7da79", name = "Outbound Dialer Sync", platform = "Integrations",
    purpose = "contact lists of the outbound campaigns (weekdays)", volume = 140000, weekend = 0.1,
    how = "1 token", e4 = 0.008,
    endpoints = {
      { "POST /api/v2/outbound/contactlists/{contactListId}/contacts", 50 },
      { "GET /api/v2/outbound/campaigns/{campaignId}", 30 },
      { "PUT /api/v2/outbound/contactlists/{contactListId}/contacts/{contactId}", 15 },
      { "GET /api/v2/outbound/contactlists", 5 },
    } },
  { id = "7b3eea09-adb5-46ae-a571-e0662103749b", name = "Chat Widget Backend", platform = "PublicAPI",
    purpose = "the website's chat widget", volume = 230000, weekend = 0.6, how = "1 token", e4 = 0.003,
    endpoints = {
      { "POST /api/v2/conversations/chats", 10 },
      { "GET /api/v2/conversations/chats/{conversationId}", 45 },
      { "POST /api/v2/conversations/chats/{conversationId}/communications/{communicationId}/messages", 45 },
    } },
  { id = "5bb039c1-6489-402b-955f-e40fe1a58d56", name = "Partner Portal", platform = "WebApp", users = true,
    orgs = { 1, 2, 3, 4 }, purpose = "the outsourcers' portal, in four organizations", volume = 28000,
    weekend = 0.3, how = "users (code grant)", e4 = 0.006,
    endpoints = {
      { "GET /api/v2/users/me", 30 },
      { "GET /api/v2/organizations/me", 10 },
      { "POST /api/v2/analytics/conversations/details/query", 40 },
      { "GET /api/v2/conversations/{conversationId}/recordings", 20 },
    } },
  { id = "56838715-86f7-4482-a34c-c5dc68fdf57f", name = "Salesforce Bridge", platform = "Integrations",
    users = true, orgs = { 1, 4 }, purpose = "CTI for the sales team", volume = 300000, weekend = 0.3,
    how = "users (code grant), each well under 3,000 a minute", e4 = 0.005, burst = 0.15,
    endpoints = {
      { "GET /api/v2/conversations/calls/{conversationId}", 30 },
      { "PATCH /api/v2/conversations/calls/{conversationId}", 10 },
      { "GET /api/v2/users/{userId}/presences/purecloud", 25 },
      { "PATCH /api/v2/users/{userId}/presences/purecloud", 20 },
      { "POST /api/v2/notifications/channels", 5 },
      { "PUT /api/v2/notifications/channels/{channelId}/subscriptions", 10 },
    } },
  { id = "a85107ec-9a49-46df-89d9-98b23e1a64ae", name = "Zendesk Bridge", platform = "Integrations",
    purpose = "ticket links for the support desk", volume = 48000, weekend = 0.5, how = "1 token", e4 = 0.004,
    endpoints = {
      { "GET /api/v2/conversations/{conversationId}", 50 },
      { "PUT /api/v2/externalcontacts/conversations/{conversationId}", 30 },
      { "GET /api/v2/externalcontacts/contacts/{contactId}", 20 },
    } },
  { id = "ac5f92f4-8667-4615-89a0-13ed9ac86dea", name = "Billing Reconciler", platform = "PublicAPI",
    purpose = "monthly API usage and billable usage (weekdays)", volume = 2500, weekend = 0, how = "1 token",
    e4 = 0.01,
    endpoints = {
      { "POST /api/v2/usage/aggregates/query/jobs", 10 },
      { "GET /api/v2/usage/aggregates/query/jobs/{jobId}", 60 },
      { "GET /api/v2/billing/reports/billableusage", 30 },
    } },
  { id = "dc7ee659-9b4b-4441-bbb0-3e6148b3ac52", name = "Audit Archiver", platform = "PublicAPI",
    purpose = "audit trail into the archive, every day", volume = 7000, weekend = 1, how = "1 token", e4 = 0.004,
    endpoints = {
      { "POST /api/v2/audits/query", 20 },
      { "GET /api/v2/audits/query/{transactionId}", 40 },
      { "GET /api/v2/audits/query/{transactionId}/results", 40 },
    } },
  { id = "5f038b5c-3252-4e8c-b1d5-a043182987c9", name = "Ops Monitor", platform = "PublicAPI",
    purpose = "edge and queue health checks, around the clock", volume = 35000, weekend = 1, how = "1 token",
    e4 = 0.002,
    endpoints = {
      { "GET /api/v2/telephony/providers/edges", 40 },
      { "GET /api/v2/routing/queues", 30 },
      { "GET /api/v2/tokens/me", 30 },
    } },
  { id = "c5628250-7324-4ec8-b869-02ee76376c14", name = "Mobile App", platform = "WebApp", users = true,
    purpose = "the supervisors' mobile app", volume = 140000, weekend = 0.4, how = "users (code grant)",
    e4 = 0.006,
    endpoints = {
      { "GET /api/v2/users/me", 20 },
      { "GET /api/v2/conversations", 30 },
      { "GET /api/v2/users/{userId}/presences/purecloud", 30 },
      { "PATCH /api/v2/users/{userId}/presences/purecloud", 20 },
    } },
  { id = "53444a1d-8a4f-4dd8-8870-a3a5dc4eb96c", name = "Intranet Directory", platform = "WebApp", users = true,
    purpose = "the staff directory of the intranet", volume = 18000, weekend = 0.1, how = "users (implicit grant)",
    e4 = 0.01,
    endpoints = {
      { "POST /api/v2/users/search", 60 },
      { "GET /api/v2/users/{userId}", 40 },
    } },
  { id = "bcea6a4d-dc36-4aa7-a6ae-09ec703f03ee", name = "Survey Sender", platform = "PublicAPI",
    purpose = "post-call surveys", volume = 4500, weekend = 0.3, how = "1 token", e4 = 0.02,
    endpoints = {
      { "POST /api/v2/quality/surveys", 50 },
      { "GET /api/v2/quality/conversations/{conversationId}/surveys", 50 },
    } },
  { id = "c4da0ef4-30ca-4d8c-82db-80b20cad645c", name = "Callback Scheduler", platform = "Integrations",
    purpose = "schedules callbacks; its release on the runaway day polls callbacks in a loop", volume = 14000,
    weekend = 0.3, how = "1 token; since the runaway day 20 workers with a token each (8.6 million a day at the limit)",
    e4 = 0.004, runaway = true,
    endpoints = {
      { "POST /api/v2/conversations/callbacks", 50 },
      { "GET /api/v2/conversations/callbacks/{conversationId}", 50 },
    },
    runaway_endpoints = {
      { "GET /api/v2/conversations/callbacks", 85 },
      { "GET /api/v2/conversations/callbacks/{conversationId}", 15 },
    } },
  { id = "ff92cd5b-1eed-480d-b07d-0116a956d9e6", name = "Recording Exporter", platform = "PublicAPI",
    purpose = "recordings to the compliance archive", volume = 95000, weekend = 0.9, how = "1 token", e4 = 0.003,
    endpoints = {
      { "GET /api/v2/conversations/{conversationId}/recordings/{recordingId}", 60 },
      { "GET /api/v2/conversations/{conversationId}/recordingmetadata", 30 },
      { "POST /api/v2/recording/batchrequests", 2 },
      { "GET /api/v2/recording/batchrequests/{jobId}", 8 },
    } },
  { id = "101e374e-3a31-4581-943b-4b0a5077ac41", name = "Team Lead Console", platform = "WebApp", users = true,
    purpose = "team leads' agent views", volume = 55000, weekend = 0.3, how = "users (code grant)", e4 = 0.005,
    endpoints = {
      { "POST /api/v2/analytics/users/aggregates/query", 50 },
      { "GET /api/v2/users/{userId}/queues", 20 },
      { "PUT /api/v2/users/{userId}/routingstatus", 10 },
      { "GET /api/v2/routing/queues/{queueId}/members", 20 },
    } },
  { id = "339c0f84-1874-4537-baf4-ffb4300957cc", name = "QA Harness (staging)", platform = "PublicAPI",
    purpose = "a test harness pointed at production by mistake (weekdays)", volume = 3000, weekend = 0,
    how = "1 token", e4 = 0.08,
    endpoints = {
      { "GET /api/v2/routing/queues", 30 },
      { "POST /api/v2/routing/queues", 10 },
      { "DELETE /api/v2/routing/queues/{queueId}", 10 },
      { "GET /api/v2/users/search", 50 },
    } },
}

-- Ten of the organization's users (the ones the user-facing clients act for).
M.users = {
  "4ed31410-5f67-42d4-b852-1b1bd17f39cd", "24c43c82-2c9d-4244-b064-bf5f1a85ea92",
  "70888927-c987-4cbc-9c37-71d06411eb9a", "8240c414-1e25-41e9-b226-a8ad4097aa12",
  "691efa49-6c4c-40d6-b5ab-15322c1b0085", "8baf87da-25f2-4ab6-9350-85049987fe80",
  "b0b028c2-9309-4111-8edf-42db1e908465", "f62a9290-202d-47b4-8fe6-5c9330db7fb4",
  "281af26d-3057-4047-9fd9-b2f944c6fe39", "22439c09-6667-4aae-a95f-74d86a6be78a",
}

M.platforms = { "PublicAPI", "WebApp", "Integrations" }

-- The runaway: from its first day, the runaway client makes about `requests` a day more (40% of it on the
-- first day, 85% on the second), with 6-12% of them answered 429. Settings (config `runaway`).
M.RUNAWAY_REQUESTS = 7500000
M.RUNAWAY_DAYS_BEFORE_START = 7 -- default first day: 7 days before the fake's clock at start

-- incidents: about one day a month, 5xx on about half the endpoints, for everyone
local INCIDENT_RATE = 0.035

-- ---------------------------------------------------------------- catalog of the data set

M.client_by_id, M.client_by_name, M.org_by_id, M.user_index = {}, {}, {}, {}
for i, o in ipairs(M.orgs) do o.index = i; M.org_by_id[o.id] = o end
for i, u in ipairs(M.users) do M.user_index[u] = i end

M.templates = {}      -- the templateUris the data set uses (no leading slash), sorted
M.template_index = {} -- templateUri -> index in M.templates
M.pairs = {}          -- { method, template (index) } of every endpoint the data set uses, sorted
local METHOD_ORDER = { GET = 1, POST = 2, PUT = 3, PATCH = 4, DELETE = 5, HEAD = 6 }
M.methods = {}

local function parse_pair(c, pair)
  local method, path = pair:match("^(%u+) (/api/v2/%S+)$")
  assert(method and endpoints.has(pair),
    "fake.data: client '" .. c.name .. "' uses '" .. tostring(pair) .. "', which is not in endpoints.tsv")
  return method, path:sub(2)
end

do
  local tset, mset, pset = {}, {}, {}
  for i, c in ipairs(M.clients) do
    c.index = i
    c.orgs = c.orgs or { 1 }
    c.self_uri = "/api/v2/oauth/clients/" .. c.id
    M.client_by_id[c.id] = c
    M.client_by_name[c.name] = c
    for _, list in ipairs { c.endpoints, c.runaway_endpoints or {} } do
      for _, e in ipairs(list) do
        local method, template = parse_pair(c, e[1])
        e.method, e.template_uri = method, template
        tset[template] = true
        mset[method] = true
        pset[method .. " " .. template] = { method = method, template_uri = template }
      end
    end
  end
  for t in pairs(tset) do M.templates[#M.templates + 1] = t end
  table.sort(M.templates)
  for i, t in ipairs(M.templates) do M.template_index[t] = i end
  for m in pairs(mset) do M.methods[#M.methods + 1] = m end
  table.sort(M.methods, function(a, b) return METHOD_ORDER[a] < METHOD_ORDER[b] end)
  local keys = {}
  for k in pairs(pset) do keys[#keys + 1] = k end
  table.sort(keys)
  for i, k in ipairs(keys) do
    M.pairs[i] = { method = pset[k].method, template = M.template_index[pset[k].template_uri] }
  end
  for _, c in ipairs(M.clients) do
    for _, list in ipairs { c.endpoints, c.runaway_endpoints or {} } do
      for _, e in ipairs(list) do e.template = M.template_index[e.template_uri] end
    end
  end
end
M.endpoint_count = endpoints.count
M.runaway_client = nil
for _, c in ipairs(M.clients) do if c.runaway then M.runaway_client = c end end

-- ---------------------------------------------------------------- streams

local streams = {}
M.streams = streams

local function weights_of(list)
  local total = 0
  for _, e in ipairs(list) do total = total + e[2] end
  return total
end

local function add_stream(s)
  s.index = #streams + 1
  s.seed = hash(M.SEED, s.client, s.template, s.index)
  s.get = s.method == "GET"
  streams[#streams + 1] = s
end

local function build_streams()
  local S = M.SEED
  for ci, c in ipairs(M.clients) do
    local k = 0
    local function r() k = k + 1; return rand(S, ci, 1000 + k) end
    for _, oi in ipairs(c.orgs) do
      local org_scale = M.orgs[oi].scale * (oi == 1 and 1 or (0.7 + 0.6 * r()))
      for _, list in ipairs { c.endpoints, c.runaway_endpoints or false } do
        if list then
          local runaway = list == c.runaway_endpoints
          if not runaway or oi == 1 then -- the runaway is in the home organization
            local total = weights_of(list)
            for _, e in ipairs(list) do
              local share = e[2] / total
              local base = runaway and share or c.volume * share * org_scale
              local users = { false }
              local uweights = { 1 }
              if c.users then
                users, uweights = {}, {}
                local nu = 2 + floor(r() * 3)
                local seen, wsum = {}, 0
                for _ = 1, nu do
                  local ui = 1 + floor(r() * #M.users)
                  if not seen[ui] then
                    seen[ui] = true
                    users[#users + 1] = ui
                    local w = 0.3 + r()
                    uweights[#uweights + 1] = w
                    wsum = wsum + w
                  end
                end
                for j = 1, #uweights do uweights[j] = uweights[j] / wsum end
              end
              for j, ui in ipairs(users) do
                add_stream {
                  org = oi, client = ci, template = e.template, method = e.method, platform = c.platform,
                  user = ui or nil, base = base * uweights[j], runaway = runaway or nil,
                  -- small streams are not active every day
                  p = (runaway or c.volume * share * org_scale * uweights[j] >= 1000) and 1 or 0.75,
                }
              end
            end
          end
        end
      end
    end
  end
end
build_streams()

-- ---------------------------------------------------------------- settings

-- settings: { runaway = false | { first_day, requests }, offset = false | { day, client, value } }
M.settings = { runaway = false, offset = false }

local day_cache, day_cache_n = {}, 0
local DAY_CACHE_MAX = 800

local function clear_cache() day_cache, day_cache_n = {}, 0 end

-- A 64-bit integer from a decimal string: an int64 cdata under LuaJIT, an integer under Lua 5.3+.
local function int64(text)
  if type(jit) == "table" then
    local v = require("ffi").new("int64_t", 0)
    for ch in text:gmatch("%d") do v = v * 10 + (ch:byte() - 48) end
    return v
  end
  return math.tointeger(tonumber(text))
end
M.int64 = int64

-- configure(cfg): the settings from the fake's config (keys runaway, count_offset); drops memoised days when
-- they change.
function M.configure(cfg)
  local new = { runaway = false, offset = false }
  local ra = cfg.runaway
  if ra then
    new.runaway = { first_day = floor(util.parse_datetime(ra.start) / 86400), requests = ra.requests }
  end
  local off = cfg.count_offset
  if off then
    local c = M.client_by_id[off.client_id]
    new.offset = { day = floor(util.parse_datetime(off.date) / 86400), client = c.index, value = off.value }
  end
  local old = M.settings
  local same = (not old.runaway) == (not new.runaway) and (not old.offset) == (not new.offset)
  if same and new.runaway then
    same = old.runaway.first_day == new.runaway.first_day and old.runaway.requests == new.runaway.requests
  end
  if same and new.offset then
    same = old.offset.day == new.offset.day and old.offset.client == new.offset.client and
      old.offset.value == new.offset.value
  end
  M.settings = new
  if not same then clear_cache() end
end

-- today (days since the epoch, UTC): replaced by the fake's state (config `today`)
function M.today() return floor(os.time() / 86400) end

-- ---------------------------------------------------------------- usage of a day

-- 429 bursts: a client with `burst` has an episode in a 4-day block with that chance; inside it most days
-- are burst days, with 2-15% of its requests answered 429.
local function burst_day(c, day)
  if not c.burst then return false end
  local block = floor((day + c.index) / 4)
  if rand(M.SEED, c.index, 4242, block) >= c.burst then return false end
  return rand(M.SEED, c.index, day, 4343) < 0.7
end
M.burst_day = burst_day

-- 5xx incidents: the share of requests answered 5xx on the affected endpoints that day, or nil
local function incident(day)
  if rand(M.SEED, 9001, day) >= INCIDENT_RATE then return nil end
  return 0.005 + 0.035 * rand(M.SEED, 9002, day)
end
M.incident = incident

-- A record: { day, org, client, template, method, platform, user (index or nil),
--             s200, s300, s400, s429, s500, req }
local function stream_day(s, day)
  local c = M.clients[s.client]
  local seed = s.seed
  local req
  if s.runaway then
    local ra = M.settings.runaway
    if not ra or day < ra.first_day then return nil end
    local k = day - ra.first_day
    local level = k == 0 and 0.4 or (k == 1 and 0.85 or 1)
    req = floor(ra.requests * s.base * level * (0.93 + 0.14 * rand(seed, day, 1)))
  else
    local f = util.weekday(day) >= 5 and c.weekend or 1
    if f <= 0 then return nil end
    if s.p < 1 and rand(seed, day, 0) >= s.p then return nil end
    req = floor(s.base * f * (0.85 + 0.3 * rand(seed, day, 1)) + 0.5)
  end
  if req < 1 then return nil end
  local s300 = s.get and floor(req * 0.002 * rand(seed, day, 5)) or 0
  local e4 = floor(req * c.e4 * (0.5 + rand(seed, day, 3)))
  local s429 = 0
  if s.runaway then
    s429 = floor(req * (0.06 + 0.06 * rand(seed, day, 4)))
  elseif burst_day(c, day) then
    s429 = floor(req * (0.02 + 0.13 * rand(seed, day, 4)))
  end
  local s500 = floor(req * 0.00002 * rand(seed, day, 2))
  local inc = incident(day)
  if inc and rand(M.SEED, day, s.template, 31) < 0.5 then
    s500 = s500 + floor(req * inc * (0.5 + rand(seed, day, 6)))
  end
  local s400 = e4 + s429
  return {
    day = day, org = s.org, client = s.client, template = s.template, method = s.method,
    platform = s.platform, user = s.user,
    s200 = req - s300 - s400 - s500, s300 = s300, s400 = s400, s429 = s429, s500 = s500, req = req,
  }
end

-- All records of a day (every organization), memoised. Ignores today: see M.each.
function M.day(day)
  local recs = day_cache[day]
  if recs then return recs end
  recs = {}
  if day < M.FIRST_DAY then return recs end -- the organizations were created on 2020-01-01
  for i = 1, #streams do
    local r = stream_day(streams[i], day)
    if r then recs[#recs + 1] = r end
  end
  local off = M.settings.offset
  if off and off.day == day then
    -- the count offset: added to the first home-organization record of its client that day
    for _, r in ipairs(recs) do
      if r.client == off.client and r.org == 1 then
        local v = int64(off.value)
        r.req, r.s200 = r.req + v, r.s200 + v
        break
      end
    end
  end
  if day_cache_n >= DAY_CACHE_MAX then clear_cache() end
  day_cache[day] = recs
  day_cache_n = day_cache_n + 1
  return recs
end

-- Iterate the records of [first_day, last_day] that satisfy keep(rec) (keep may be nil). Days from today
-- on have no usage yet.
function M.each(first_day, last_day, keep, fn)
  local last = M.today() - 1
  if last_day < last then last = last_day end
  for d = first_day, last do
    local recs = M.day(d)
    for i = 1, #recs do
      local r = recs[i]
      if keep == nil or keep(r) then fn(r) end
    end
  end
end

return M
