-- usage.rows: one shape for a day of usage, whatever produced it. The rows of an aggregates job
-- (OrganizationPublicApiUsage, ClientPublicApiUsage), of the old generation (ApiUsageRow) and of the history
-- store all become the same plain table:
--   { date = "YYYY-MM-DD" | nil, client_id =, client_name =, organization_id =, user_id =, template_uri =,
--     http_method =, platform =, requests =, status200 =, status300 =, status400 =, status429 =, status500 = }
-- Strings are present only when the row had them (a job groups by some fields only); counts are numbers,
-- 0 when the row did not carry them. Nothing a server sent can make normalize raise.

local M = {}

-- the count fields, in display order; 429 is part of 4xx
M.COUNTS = { "requests", "status200", "status300", "status400", "status429", "status500" }

local function str(v)
  if type(v) == "string" then return v end
  return nil
end

local function count(v)
  if type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge then return v end
  return 0
end

-- normalize(row) -> a normalized row (a new table); row: a decoded API row of either generation
function M.normalize(row)
  if type(row) ~= "table" then row = {} end
  local client = type(row.oauthClient) == "table" and row.oauthClient or nil
  local user = type(row.user) == "table" and row.user or nil
  local date = str(row.date)
  return {
    date = date and date:match("^(%d%d%d%d%-%d%d%-%d%d)") or nil,
    client_id = str(client and client.id) or str(row.clientId),
    client_name = str(client and client.name) or str(row.clientName),
    organization_id = str(row.organizationId),
    user_id = str(user and user.id) or str(row.userId),
    template_uri = str(row.templateUri),
    http_method = str(row.httpMethod),
    platform = str(row.platform),
    requests = count(row.requestCount ~= nil and row.requestCount or row.requests),
    status200 = count(row.status200),
    status300 = count(row.status300),
    status400 = count(row.status400),
    status429 = count(row.status429),
    status500 = count(row.status500),
  }
end

return M
