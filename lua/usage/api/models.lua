-- usage.api.models: every model and enum of the Usage API (docs/service.md), in one place.
-- Validation, the command line's flags, response array marking and the docs derive from here.
--
-- A field is { name, type, required, enum, array, model, doc }:
--   type  "string" | "interval" | "enum" | "integer" | "object" | "datetime" | "date"
--   array true when the field is a JSON array of `type`
--   enum  the allowed values (for type "enum")
--   model the model name of an "object" field (or of each item of an array of objects)

local M = {}

M.enums = {
  granularity = { "Day", "Week", "Month" },
  -- old generation (query, client query, summary)
  query_metrics = { "Status200", "Status300", "Status400", "Status500", "Status429", "Requests" },
  org_query_group_by = { "OAuthClientId", "OrganizationId", "UserId", "TemplateUri", "HttpMethod" },
  client_query_group_by = { "OAuthClientId", "OrganizationId", "TemplateUri", "HttpMethod" },
  -- simple search
  search_metrics = { "Date", "ClientName", "HttpMethod", "TemplateUri",
                     "Status200", "Status300", "Status400", "Status500", "Status429" },
  search_http_methods = { "GET", "POST", "DELETE", "PATCH", "PUT", "HEAD", "CONNECT", "OPTIONS", "TRACE" },
  -- new generation (aggregates jobs)
  aggregate_metrics = { "Requests", "Status200", "Status300", "Status400", "Status429", "Status500" },
  aggregate_http_methods = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" },
  org_aggregate_group_by = { "OauthClientName", "OauthClientId", "UserId", "HttpMethod", "TemplateUri", "Platform" },
  client_aggregate_group_by = { "OrganizationId", "HttpMethod", "TemplateUri", "Platform" },
  sort_order = { "Asc", "Desc" },
  -- statuses of the two asynchronous generations
  query_status = { "Running", "Complete", "Failed" },
  job_status = { "Queued", "Running", "Succeeded", "Failed", "Cancelled" },
}
local E = M.enums

local function f(name, type_, extra)
  local field = { name = name, type = type_ }
  for k, v in pairs(extra or {}) do field[k] = v end
  return field
end

local interval = f("interval", "interval", { required = true,
  doc = "ISO-8601 interval START/END, e.g. 2025-01-01T00:00:00Z/2025-01-31T00:00:00Z" })

M.models = {
  -- request bodies ---------------------------------------------------------------------------
  ApiUsageOrganizationQuery = { fields = {
    interval,
    f("granularity", "enum", { enum = E.granularity }),
    f("metrics", "enum", { array = true, enum = E.query_metrics }),
    f("groupBy", "enum", { array = true, enum = E.org_query_group_by }),
  } },
  ApiUsageClientQuery = { fields = {
    interval,
    f("granularity", "enum", { enum = E.granularity }),
    f("metrics", "enum", { array = true, enum = E.query_metrics }),
    f("groupBy", "enum", { array = true, enum = E.client_query_group_by }),
  } },
  ApiUsageSimpleSearch = { fields = {
    interval,
    f("metrics", "enum", { array = true, enum = E.search_metrics }),
    f("oauthClientNames", "string", { array = true }),
    f("httpMethods", "enum", { array = true, enum = E.search_http_methods }),
    f("templateUris", "string", { array = true }),
  } },
  UsageSortBy = { fields = { -- both optional (the OpenAPI description of UsageQuerySortBy)
    f("fieldName", "string"),
    f("order", "enum", { enum = E.sort_order }),
  } },
  OrganizationPublicApiUsageQueryRequest = { generation = "jobs", fields = {
    interval,
    f("granularity", "enum", { enum = E.granularity }),
    f("sortBy", "object", { array = true, model = "UsageSortBy" }),
    f("metrics", "enum", { array = true, enum = E.aggregate_metrics }),
    f("templateUris", "string", { array = true }),
    f("platforms", "string", { array = true }),
    f("httpMethods", "enum", { array = true, enum = E.aggregate_http_methods }),
    f("groupBy", "enum", { array = true, enum = E.org_aggregate_group_by }),
    f("userIds", "string", { array = true }),
    f("oauthClientIds", "string", { array = true }),
  } },
  ClientPublicApiUsageQueryRequest = { generation = "jobs", fields = {
    interval,
    f("granularity", "enum", { enum = E.granularity }),
    f("sortBy", "object", { array = true, model = "UsageSortBy" }),
    f("metrics", "enum", { array = true, enum = E.aggregate_metrics }),
    f("templateUris", "string", { array = true }),
    f("platforms", "string", { array = true }),
    f("httpMethods", "enum", { array = true, enum = E.aggregate_http_methods }),
    f("groupBy", "enum", { array = true, enum = E.client_aggregate_group_by }),
    f("organizationIds", "string", { array = true }),
  } },

  -- responses -----------------------------------------------------------------------------
  UsageExecutionResult = { fields = { f("executionId", "string"), f("resultsUri", "string") } },
  OrganizationUsageQueryResponse = { fields = {
    f("id", "string", { required = true }), f("name", "string"), f("resultsUri", "string"), f("selfUri", "string"),
  } },
  ClientUsageQueryResponse = { fields = {
    f("id", "string", { required = true }), f("name", "string"), f("resultsUri", "string"), f("selfUri", "string"),
  } },
  ApiUsageQueryResult = { fields = {
    f("results", "object", { array = true, model = "ApiUsageRow" }),
    f("queryStatus", "enum", { enum = E.query_status }),
    f("cursors", "object", { model = "Cursors" }),
  } },
  Cursors = { fields = { f("before", "string"), f("after", "string") } },
  ApiUsageRow = { fields = {
    f("clientId", "string"), f("clientName", "string"), f("organizationId", "string"), f("userId", "string"),
    f("templateUri", "string"), f("httpMethod", "string"),
    f("status200", "integer"), f("status300", "integer"), f("status400", "integer"),
    f("status500", "integer"), f("status429", "integer"), f("requests", "integer"),
    f("date", "datetime"),
  } },
  OrganizationPublicApiUsageResultsResponse = { fields = {
    f("name", "string"), f("queryStatus", "enum", { required = true, enum = E.job_status }),
    f("errorBody", "object", { model = "ErrorBody" }), f("nextUri", "string"),
    f("entities", "object", { array = true, model = "OrganizationPublicApiUsage" }), f("selfUri", "string"),
  } },
  ClientPublicApiUsageResultsResponse = { fields = {
    f("name", "string"), f("queryStatus", "enum", { required = true, enum = E.job_status }),
    f("errorBody", "object", { model = "ErrorBody" }), f("nextUri", "string"),
    f("entities", "object", { array = true, model = "ClientPublicApiUsage" }), f("selfUri", "string"),
  } },
  OrganizationPublicApiUsage = { fields = {
    f("date", "date"), f("platform", "string"), f("httpMethod", "string"), f("templateUri", "string"),
    f("requestCount", "integer"), f("status200", "integer"), f("status300", "integer"),
    f("status400", "integer"), f("status429", "integer"), f("status500", "integer"),
    f("oauthClient", "object", { model = "OauthClientRef" }), f("user", "object", { model = "UserRef" }),
  } },
  ClientPublicApiUsage = { fields = {
    f("date", "date"), f("platform", "string"), f("httpMethod", "string"), f("templateUri", "string"),
    f("requestCount", "integer"), f("status200", "integer"), f("status300", "integer"),
    f("status400", "integer"), f("status429", "integer"), f("status500", "integer"),
    f("organizationId", "string"),
  } },
  OauthClientRef = { fields = { f("id", "string"), f("name", "string"), f("selfUri", "string") } },
  UserRef = { fields = { f("id", "string"), f("selfUri", "string") } },
  ErrorBody = { fields = {
    f("message", "string"), f("code", "string"), f("status", "integer"), f("entityId", "string"),
    f("entityName", "string"), f("messageWithParams", "string"), f("messageParams", "object"),
    f("contextId", "string"), f("details", "object", { array = true, model = "ErrorDetail" }),
    f("errors", "object", { array = true, model = "ErrorBody" }), f("limit", "object", { model = "Limit" }),
  } },
  ErrorDetail = { fields = {
    f("errorCode", "string"), f("fieldName", "string"), f("entityId", "string"), f("entityName", "string"),
  } },
  Limit = { fields = { f("key", "string"), f("namespace", "string"), f("value", "integer") } },
}

-- index fields by name once, and note which models hold arrays somewhere (for mark_arrays)
local function holds_arrays(model, seen)
  if seen[model] then return false end
  seen[model] = true
  for _, field in ipairs(model.fields) do
    if field.array or (field.model and holds_arrays(M.models[field.model], seen)) then return true end
  end
  return false
end
for _, model in pairs(M.models) do
  model.by_name = {}
  for _, field in ipairs(model.fields) do model.by_name[field.name] = field end
end
for _, model in pairs(M.models) do model.holds_arrays = holds_arrays(model, {}) end
-- the fields mark_arrays has to look at: arrays, and objects whose model holds arrays
for _, model in pairs(M.models) do
  model.array_fields = {}
  for _, field in ipairs(model.fields) do
    if field.array or (field.model and M.models[field.model].holds_arrays) then
      model.array_fields[#model.array_fields + 1] = field
    end
  end
end

-- The count fields of each row model, in display order (used by the command line and reports).
M.count_fields = {
  ApiUsageRow = { "requests", "status200", "status300", "status400", "status429", "status500" },
  OrganizationPublicApiUsage = { "requestCount", "status200", "status300", "status400", "status429", "status500" },
  ClientPublicApiUsage = { "requestCount", "status200", "status300", "status400", "status429", "status500" },
}

-- Old and new generation statuses, compared case-insensitively; anything else means "still working".
local final = {
  complete = "done", completed = "done", succeeded = "done",
  failed = "failed", cancelled = "failed", canceled = "failed",
}
function M.status_outcome(status)
  if type(status) ~= "string" then return "running" end
  return final[status:lower()] or "running"
end

-- marker(model) -> function(value, array_mt) that gives the empty arrays of a decoded value of the model
-- their array marker, or false when the model holds no array; made once per model (every answer of an
-- operation goes through its response model's)
local function marker(model)
  if model.marker ~= nil then return model.marker end
  if not model.holds_arrays then
    model.marker = false
    return false
  end
  local list = model.array_fields
  local n = #list
  local names, arrays, subs = {}, {}, {}
  for i, field in ipairs(list) do
    names[i], arrays[i] = field.name, field.array or false
    subs[i] = field.model and M.models[field.model].holds_arrays and M.models[field.model] or false
  end
  local function mark(value, array_mt)
    for i = 1, n do
      local v = value[names[i]]
      if type(v) == "table" then
        local sub = subs[i]
        if arrays[i] then
          if next(v) == nil then
            setmetatable(v, array_mt)
          elseif sub then
            local m = marker(sub)
            for j = 1, #v do
              local item = v[j]
              if type(item) == "table" then m(item, array_mt) end
            end
          end
        elseif sub then
          marker(sub)(v, array_mt)
        end
      end
    end
  end
  model.marker = mark
  return mark
end

-- Give empty arrays of a decoded response their array marker (so they encode back as []).
function M.mark_arrays(model_name, value, array_mt)
  local model = M.models[model_name]
  if not model or type(value) ~= "table" then return value end
  local mark = marker(model)
  if mark then mark(value, array_mt) end
  return value
end

return M
