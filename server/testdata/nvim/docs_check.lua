-- Checks the neovim configuration of docs/editors.md (loaded with -u):
-- opening a JSON, a YAML and a TOML config shows mirrord-ls's
-- diagnostics, and package.json of the same project gets no client.
-- Input: MIRRORD_LS_OUT (where the results go, as JSON). Always quits.

local result = { configs = {} }

local function run()
  for _, f in ipairs({ '.mirrord/mirrord.json', 'staging.mirrord.yaml', '.mirrord/dev.toml' }) do
    local t0 = vim.loop.hrtime()
    vim.cmd('edit ' .. vim.fn.fnameescape(f))
    local buf = vim.api.nvim_get_current_buf()
    if not vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 10) then
      result.error = 'no diagnostics for ' .. f
      return
    end
    local entry = { file = f, ms = math.floor((vim.loop.hrtime() - t0) / 1e6), diagnostics = {}, completion = {} }
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      table.insert(entry.diagnostics, { lnum = d.lnum, col = d.col, end_col = d.end_col, message = d.message })
    end
    -- Completion and hover after the "mo" of the mode key.
    for lnum, line in ipairs(vim.api.nvim_buf_get_lines(buf, 0, -1, false)) do
      local col = line:find('mode', 1, true)
      if col then
        local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = lnum - 1, character = col + 1 } }
        for _, r in pairs(vim.lsp.buf_request_sync(buf, 'textDocument/completion', params, 5000) or {}) do
          local items = r.result and (r.result.items or r.result) or {}
          for _, it in ipairs(items) do table.insert(entry.completion, it.label) end
        end
        for _, r in pairs(vim.lsp.buf_request_sync(buf, 'textDocument/hover', params, 5000) or {}) do
          if r.result then entry.hover = r.result.contents end
        end
        break
      end
    end
    table.insert(result.configs, entry)
  end
  vim.cmd('edit package.json')
  local buf = vim.api.nvim_get_current_buf()
  vim.wait(300)
  result.package_json = { clients = #vim.tbl_keys(vim.lsp.buf_get_clients(buf)), diagnostics = #vim.diagnostic.get(buf) }
  local names = {}
  for _, c in pairs(vim.lsp.get_active_clients()) do table.insert(names, c.name) end
  result.clients = names
end

local ok, err = pcall(run)
if not ok then result.error = tostring(err) end
local f = io.open(os.getenv('MIRRORD_LS_OUT'), 'w')
f:write(vim.fn.json_encode(result))
f:close()
vim.cmd('qa!')
