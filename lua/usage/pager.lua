-- usage.pager: streams the rows of a paged result, one page in memory at a time.
--   for row in pager:rows() do ... end   -- raises the err table on failure
--   for page in pager:pages() do ... end -- page = array of rows (empty pages are skipped)
--   local rows, err = pager:all()
-- Fields a caller may read: state ("new", "polling", "paging", "done", "failed"), id (execution or job
-- id once submitted), page_count, row_count, poll_count, truncated (the API's row cap was reached), err.
-- A source gives first(pager) -> rows, cursor | nil, err and next(pager, cursor) -> the same.

local errors = require "usage.errors"

local M = {}

local Pager = {}
Pager.__index = Pager

function M.new(source, opts)
  return setmetatable({
    source = source,
    on_progress = opts and opts.on_progress,
    state = "new",
    page_count = 0,
    row_count = 0,
    poll_count = 0,
    truncated = false,
    cap = source.cap,
    seen = {},
    started = false,
    done = false,
  }, Pager)
end

function Pager:__tostring()
  return string.format("usage.pager (%s, %d pages, %d rows)", self.state, self.page_count, self.row_count)
end

function Pager:progress()
  if self.on_progress then
    self.on_progress {
      state = self.status or self.state,
      polls = self.poll_count,
      pages = self.page_count,
      rows = self.row_count,
      elapsed = self.elapsed or 0,
      id = self.id,
    }
  end
end

local function fail(self, err)
  self.err = err
  self.state = "failed"
  self.done = true
  return nil, err
end

-- next_page() -> rows | false (no more pages) | nil, err
function Pager:next_page()
  if self.err then return nil, self.err end
  if self.done then return false end
  local rows, cursor
  if not self.started then
    self.started = true
    rows, cursor = self.source.first(self)
  else
    local c = self.cursor
    if self.seen[c] then
      return fail(self, errors.new {
        code = "cursor_loop",
        message = "the server returned a cursor it had already returned; stopping instead of looping",
      })
    end
    self.seen[c] = true
    rows, cursor = self.source.next(self, c)
  end
  if not rows then return fail(self, cursor) end
  self.state = "paging"
  self.page_count = self.page_count + 1
  if self.cap and self.row_count + #rows >= self.cap then
    for i = #rows, self.cap - self.row_count + 1, -1 do rows[i] = nil end
    self.truncated = true
    cursor = nil
  end
  self.row_count = self.row_count + #rows
  self.cursor = cursor
  if cursor == nil then
    self.done = true
    self.state = "done"
  end
  self:progress()
  return rows
end

function Pager:pages()
  return function()
    while true do
      local page, err = self:next_page()
      if page == nil then error(err, 0) end
      if page == false then return nil end
      if #page > 0 then return page end
    end
  end
end

function Pager:rows()
  local page, i = nil, 0
  return function()
    while true do
      if page then
        i = i + 1
        local row = page[i]
        if row ~= nil then return row end
        page = nil -- let it go before fetching the next one
      end
      local p, err = self:next_page()
      if p == nil then error(err, 0) end
      if p == false then return nil end
      page, i = p, 0
    end
  end
end

function Pager:all()
  local out = {}
  while true do
    local page, err = self:next_page()
    if page == nil then return nil, err end
    if page == false then return out end
    for _, row in ipairs(page) do out[#out + 1] = row end
  end
end

return M
