// UI text in English and Brazilian Portuguese. `t(key, params)` fills {name} placeholders.
const en = {
  autoVideo: "Auto video", retryAllFailed: "Retry all failed", importBatch: "Import", imported: "{n} jobs created.", configuration: "Configuration", newVideo: "New video",
  logOut: "Log out", everyProject: "every project", role_viewer: "viewer", role_operator: "operator", role_admin: "admin", search: "Search",
  allStates: "All states", allLanguages: "All languages", allStories: "All story types",
  A_FAZER: "To do", ROTEIRO: "Script", NARRACAO: "Narration", VIDEO: "Video", CONCLUIDO: "Done",
  DRAFT: "Draft", READY: "Ready", SCRIPTING: "Writing", SCRIPT_DONE: "Script ready", TTS_RUNNING: "Narrating",
  TTS_DONE: "Narration ready", RENDER_READY: "Ready to render", RENDER_RUNNING: "Rendering", DONE: "Done",
  FAILED: "Failed", CANCELLED: "Cancelled",
  historia_geral: "General", drama: "Drama", misterio: "Mystery",
  short: "Short", medium: "Medium", long: "Long", automatic: "Automatic", manual_upload: "My images",
  template: "Template", noTemplate: "No template", title: "Title", brief: "Brief", language: "Language",
  storyType: "Story type", duration: "Duration", voice: "Voice", defaultVoice: "Language default",
  visualMode: "Visuals", imagesCount: "Images", shorts: "Shorts (9:16)", uploadImages: "Upload images or clips", saveTemplate: "Save as template",
  music: "Music", recipeMusic: "The recipe's music", noMusic: "No music", uploadMusic: "Upload music (MP3, M4A, WAV, OGG, FLAC)",
  music_calm: "Calm (built in)", music_bright: "Bright (built in)", music_dark: "Dark (built in)", notAudio: "That file is an image; upload audio here.", uploadedMusic: "Your music ({id})",
  templateName: "Template name", close: "Close", create: "Create", save: "Save",
  tabInfo: "Info", tabOutline: "Outline", tabImages: "Images", tabScript: "Script", tabAudio: "Audio", tabLogs: "Logs",
  cancel: "Cancel", resume: "Resume", retry: "Retry", retryInstruction: "Instruction for the retried step (optional)",
  download: "Download", video: "Video", thumbnail: "Thumbnail", subtitles: "Subtitles",
  eta: "about {time} left", retries: "{n} retries", created: "Created", updated: "Updated",
  nothingYet: "Nothing here yet.", noImages: "No uploaded images: the backgrounds are generated.",
  connected: "Live", reconnecting: "Reconnecting…", moved: "{title} moves to {column}.",
  refused: "Not moved: {message}", pickedUp: "Picked up {title}. Use left and right arrows, then space to drop, escape to cancel.",
  dropTarget: "Drop on {column}?", dropCancelled: "Move cancelled.", retriedN: "{n} jobs retried.",
  unreadableEvents: "Event stream entries skipped because they could not be read: {n} (newest #{seq}: {reason}). The jobs they belong to may need a look; GET /api/v1/admin/unreadable-events lists them.",
  createdJob: "{title} created.", templateSaved: "Template saved.", manifest: "Configuration used",
  step: "Step", status: "Status", attempt: "Attempt", duration_s: "Time", error: "Error",
  usage: "Usage", tokens: "tokens", characters: "characters",
  ev_job_created: "Job created", ev_job_configured: "Configured: ready to run",
  ev_auto_transition: "{from} → {to}", ev_step_requested: "{step}: queued (attempt {attempt})",
  ev_step_started: "{step}: started on {worker}", ev_step_progress: "{step}: {percent}% {message}",
  ev_step_completed: "{step}: finished in {duration}", ev_step_failed: "{step} failed: {error}",
  ev_step_skipped: "{step}: skipped, {reason}", ev_artifact_written: "Saved {name} ({size})",
  ev_lock_stolen: "{step}: {worker} took over from {previous_worker}", ev_job_completed: "Video finished",
  ev_job_failed: "The job failed in {step}: {error}", ev_job_cancelled: "Cancelled: {reason}",
  ev_job_resumed: "Resumed at {step} (retry {retry_count})", ev_auto_video_set: "Auto video {state}",
  on: "on", off: "off", script: "script", tts: "narration", render: "render",
  // review, render again, rescue (issue 14)
  recipe: "Recipe", stepByStep: "Step by step (review each step)", waitingReview: "Waiting for your review", onlyWaitingReview: "Waiting for review",
  reviewHint: "Waiting for your review: look at this step, then drag the card to the next column to go on.",
  retryCurrentConfig: "Retry with the current configuration", duplicate: "Duplicate", duplicated: "{title} duplicated: the copy is in To do.",
  renderSettings: "Render settings", captions: "Captions", captions_lines: "A line at a time", captions_words: "Large words", captions_off: "None",
  endCardSeconds: "End card (seconds)", endCardText: "End card text", endCardTitle: "empty: the title", renderNow: "Render", renderAgain: "Render again",
  renderStarted: "Rendering with these settings; the current video stays until the new one is saved.",
  ev_config_refreshed: "Configuration resolved again (current versions) for the retry", ev_render_settings_changed: "Render settings changed: {changes}",
};

const pt = {
  autoVideo: "Vídeo automático", retryAllFailed: "Repetir todos com falha", importBatch: "Importar", imported: "{n} trabalhos criados.", configuration: "Configuração", newVideo: "Novo vídeo",
  logOut: "Sair", everyProject: "todos os projetos", role_viewer: "leitor", role_operator: "operador", role_admin: "administrador", search: "Buscar",
  allStates: "Todos os estados", allLanguages: "Todos os idiomas", allStories: "Todos os tipos",
  A_FAZER: "A fazer", ROTEIRO: "Roteiro", NARRACAO: "Narração", VIDEO: "Vídeo", CONCLUIDO: "Concluído",
  DRAFT: "Rascunho", READY: "Pronto", SCRIPTING: "Escrevendo", SCRIPT_DONE: "Roteiro pronto", TTS_RUNNING: "Narrando",
  TTS_DONE: "Narração pronta", RENDER_READY: "Pronto para renderizar", RENDER_RUNNING: "Renderizando",
  DONE: "Concluído", FAILED: "Falhou", CANCELLED: "Cancelado",
  historia_geral: "História geral", drama: "Drama", misterio: "Mistério",
  short: "Curto", medium: "Médio", long: "Longo", automatic: "Automático", manual_upload: "Minhas imagens",
  template: "Modelo", noTemplate: "Sem modelo", title: "Título", brief: "Briefing", language: "Idioma",
  storyType: "Tipo de história", duration: "Duração", voice: "Voz", defaultVoice: "Padrão do idioma",
  visualMode: "Visual", imagesCount: "Imagens", shorts: "Shorts (9:16)", uploadImages: "Enviar imagens ou vídeos", saveTemplate: "Salvar como modelo",
  music: "Música", recipeMusic: "A música da receita", noMusic: "Sem música", uploadMusic: "Enviar música (MP3, M4A, WAV, OGG, FLAC)",
  music_calm: "Calma (embutida)", music_bright: "Alegre (embutida)", music_dark: "Sombria (embutida)", notAudio: "Esse arquivo é uma imagem; envie um áudio aqui.", uploadedMusic: "Sua música ({id})",
  templateName: "Nome do modelo", close: "Fechar", create: "Criar", save: "Salvar",
  tabInfo: "Informações", tabOutline: "Outline", tabImages: "Imagens", tabScript: "Roteiro", tabAudio: "Áudios", tabLogs: "Logs",
  cancel: "Cancelar", resume: "Retomar", retry: "Tentar de novo", retryInstruction: "Instrução para a nova tentativa (opcional)",
  download: "Baixar", video: "Vídeo", thumbnail: "Miniatura", subtitles: "Legendas",
  eta: "faltam cerca de {time}", retries: "{n} tentativas", created: "Criado", updated: "Atualizado",
  nothingYet: "Nada aqui ainda.", noImages: "Sem imagens enviadas: os fundos são gerados.",
  connected: "Ao vivo", reconnecting: "Reconectando…", moved: "{title} vai para {column}.",
  refused: "Não movido: {message}", pickedUp: "{title} selecionado. Use as setas esquerda e direita, espaço para soltar, esc para cancelar.",
  dropTarget: "Soltar em {column}?", dropCancelled: "Movimento cancelado.", retriedN: "{n} trabalhos repetidos.",
  unreadableEvents: "Entradas do fluxo de eventos ignoradas por não poderem ser lidas: {n} (a mais recente #{seq}: {reason}). Os trabalhos delas podem precisar de atenção; GET /api/v1/admin/unreadable-events as lista.",
  createdJob: "{title} criado.", templateSaved: "Modelo salvo.", manifest: "Configuração usada",
  step: "Etapa", status: "Situação", attempt: "Tentativa", duration_s: "Tempo", error: "Erro",
  usage: "Uso", tokens: "tokens", characters: "caracteres",
  ev_job_created: "Trabalho criado", ev_job_configured: "Configurado: pronto para rodar",
  ev_auto_transition: "{from} → {to}", ev_step_requested: "{step}: na fila (tentativa {attempt})",
  ev_step_started: "{step}: iniciado em {worker}", ev_step_progress: "{step}: {percent}% {message}",
  ev_step_completed: "{step}: concluído em {duration}", ev_step_failed: "{step} falhou: {error}",
  ev_step_skipped: "{step}: pulado, {reason}", ev_artifact_written: "Salvo {name} ({size})",
  ev_lock_stolen: "{step}: {worker} assumiu no lugar de {previous_worker}", ev_job_completed: "Vídeo concluído",
  ev_job_failed: "O trabalho falhou em {step}: {error}", ev_job_cancelled: "Cancelado: {reason}",
  ev_job_resumed: "Retomado em {step} (tentativa {retry_count})", ev_auto_video_set: "Vídeo automático {state}",
  on: "ligado", off: "desligado", script: "roteiro", tts: "narração", render: "renderização",
  // revisão, renderizar de novo, resgate (issue 14)
  recipe: "Receita", stepByStep: "Passo a passo (revisar cada etapa)", waitingReview: "Aguardando sua revisão", onlyWaitingReview: "Aguardando revisão",
  reviewHint: "Aguardando sua revisão: confira esta etapa e arraste o cartão para a próxima coluna para continuar.",
  retryCurrentConfig: "Tentar de novo com a configuração atual", duplicate: "Duplicar", duplicated: "{title} duplicado: a cópia está em A fazer.",
  renderSettings: "Ajustes da renderização", captions: "Legendas", captions_lines: "Uma linha por vez", captions_words: "Palavras grandes", captions_off: "Nenhuma",
  endCardSeconds: "Cartão final (segundos)", endCardText: "Texto do cartão final", endCardTitle: "vazio: o título", renderNow: "Renderizar", renderAgain: "Renderizar de novo",
  renderStarted: "Renderizando com estes ajustes; o vídeo atual fica até o novo ser salvo.",
  ev_config_refreshed: "Configuração resolvida de novo (versões atuais) para a nova tentativa", ev_render_settings_changed: "Ajustes da renderização alterados: {changes}",
};

const dictionaries = { en, "pt-BR": pt };
let current = localStorage.getItem("vfo.lang") || (navigator.language.startsWith("pt") ? "pt-BR" : "en");

export function lang() { return current; }

export function setLang(code) {
  current = dictionaries[code] ? code : "en";
  localStorage.setItem("vfo.lang", current);
  document.documentElement.lang = current === "pt-BR" ? "pt-BR" : "en";
}

export function t(key, params = {}) {
  const text = dictionaries[current][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function translatePage(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
}

export function duration(seconds) {
  if (seconds == null) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function when(iso) {
  return new Intl.DateTimeFormat(navigator.language || current, { dateStyle: "medium", timeStyle: "short" })
    .format(new Date(iso));
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}
