-- Drives mirrord-ls through neovim's built-in LSP client (neovim >= 0.7).
-- Inputs (environment): MIRRORD_LS_BIN, MIRRORD_LS_CONFIG (a broken config
-- to open), MIRRORD_LS_OUT (where the results go, as JSON),
-- MIRRORD_LS_LOG (the server's log file).
-- The script always quits; failures are reported in the JSON as "error".

local out = os.getenv('MIRRORD_LS_OUT')
local result = {}

local function finish()
  local f = io.open(out, 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local function run()
  local bin = os.getenv('MIRRORD_LS_BIN')
  local cfg = os.getenv('MIRRORD_LS_CONFIG')
  vim.cmd('edit ' .. vim.fn.fnameescape(cfg))
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].filetype = 'json'

  local client_id = vim.lsp.start_client({
    name = 'mirrord-ls',
    cmd = { bin, '--stdio', '--log-file', os.getenv('MIRRORD_LS_LOG'), '--log-level', 'debug' },
    root_dir = vim.fn.fnamemodify(cfg, ':h:h'),
    flags = { allow_incremental_sync = true, debounce_text_changes = 0 },
  })
  if not client_id then
    result.error = 'start_client failed'
    return
  end
  vim.lsp.buf_attach_client(buf, client_id)

  -- Diagnostics of the broken config.
  local got = vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
  if not got then
    result.error = 'no diagnostics'
    return
  end
  result.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(result.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      message = d.message, severity = d.severity, source = d.source,
    })
  end

  local client = vim.lsp.get_client_by_id(client_id)
  result.server_name = client.server_capabilities and client.server_capabilities.hoverProvider and 'mirrord-ls'
  result.incremental = client.server_capabilities.textDocumentSync.change

  -- Type an incomplete document (an incremental change) and complete.
  local line = '{"feature": {"fs": {"mo'
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { line })
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = { line = 0, character = #line },
  }
  local responses = vim.lsp.buf_request_sync(buf, 'textDocument/completion', params, 10000)
  result.completion = {}
  for _, resp in pairs(responses or {}) do
    if resp.err then
      result.error = 'completion failed: ' .. vim.inspect(resp.err)
    end
    local items = resp.result and (resp.result.items or resp.result) or {}
    for _, item in ipairs(items) do
      table.insert(result.completion, { label = item.label, newText = item.textEdit and item.textEdit.newText })
    end
  end

  -- The server follows the edit: diagnostics of the new text.
  vim.wait(10000, function()
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if d.lnum == 0 and not d.message:find('feture') then return true end
    end
    return false
  end, 20)
  result.diagnostics_after_edit = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(result.diagnostics_after_edit, { lnum = d.lnum, message = d.message })
  end

  vim.lsp.stop_client(client_id)
  vim.wait(5000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 20)
  result.stopped = vim.lsp.get_client_by_id(client_id) == nil
end

local ok, err = pcall(run)
if not ok then
  result.error = tostring(err)
end
finish()
