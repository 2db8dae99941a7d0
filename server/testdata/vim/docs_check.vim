" Checks the Vim + ALE configuration of docs/editors.md (loaded with -u):
" opening a JSON, a YAML and a TOML config shows mirrord-ls's diagnostics,
" and package.json of the same project gets none. Started from a timer
" once Vim is up. Input: $MIRRORD_LS_OUT (results, as JSON). Always quits.

function! s:Wait(buf, ms) abort
  let l:start = reltime()
  while empty(ale#engine#GetLoclist(a:buf)) && reltimefloat(reltime(l:start)) * 1000 < a:ms
    sleep 20m
  endwhile
  return float2nr(reltimefloat(reltime(l:start)) * 1000)
endfunction

function! s:Check() abort
  let l:result = {'configs': []}
  for l:f in ['.mirrord/mirrord.json', 'staging.mirrord.yaml', '.mirrord/dev.toml']
    let l:start = reltime()
    execute 'edit ' . fnameescape(l:f)
    call s:Wait(bufnr(''), 15000)
    let l:diags = map(copy(ale#engine#GetLoclist(bufnr(''))),
          \ {_, d -> {'lnum': d.lnum, 'col': d.col, 'end_col': get(d, 'end_col', -1), 'linter': d.linter_name, 'text': d.text}})
    if empty(l:diags)
      let l:result.error = 'no diagnostics for ' . l:f
      return l:result
    endif
    call add(l:result.configs, {'file': l:f, 'filetype': &filetype,
          \ 'ms': float2nr(reltimefloat(reltime(l:start)) * 1000), 'diagnostics': l:diags})
  endfor
  edit package.json
  " Linting package.json is mirrord-ls's to refuse: give it the time.
  call s:Wait(bufnr(''), 1500)
  let l:result.package_json = {'filetype': &filetype, 'diagnostics': len(ale#engine#GetLoclist(bufnr('')))}
  return l:result
endfunction

function! s:Run(...) abort
  try
    let l:result = s:Check()
  catch
    let l:result = {'error': v:exception . ' at ' . v:throwpoint}
  endtry
  call writefile([json_encode(l:result)], $MIRRORD_LS_OUT)
  qa!
endfunction

call timer_start(100, function('s:Run'))
