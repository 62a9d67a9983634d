// UI text in English, Brazilian Portuguese and Spanish (i18n_es.js); the admin and log-in pages'
// text is in i18n_pages.js, the admin form's field labels in i18n_fields.js. `t(key, params)` fills {name} placeholders; a text with plural forms is
// an object chosen by Intl.PluralRules for `params.n` ({one, other, ...}; `count` names another param).
import { es } from "./i18n_es.js";
import { fields } from "./i18n_fields.js";
import { pages } from "./i18n_pages.js";

const en = {
  autoVideo: "Auto video", retryAllFailed: "Retry all failed", importBatch: "Import", imported: { one: "{n} job created.", other: "{n} jobs created." }, configuration: "Configuration", newVideo: "New video",
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
  eta: "about {time} left", retries: { one: "{n} retry", other: "{n} retries" }, created: "Created", updated: "Updated",
  nothingYet: "Nothing here yet.", noImages: "No uploaded images: the backgrounds are generated.",
  connected: "Live", reconnecting: "Reconnecting…", moved: "{title} moves to {column}.",
  refused: "Not moved: {message}", pickedUp: "Picked up {title}. Use left and right arrows, then space to drop, escape to cancel.",
  dropTarget: "Drop on {column}?", dropCancelled: "Move cancelled.", retriedN: { one: "{n} job retried.", other: "{n} jobs retried." },
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
  open: "Open", toastDone: "{title} is finished.", toastFailed: "{title} failed in {step}: {reason}",
  toastReview: "{title} waits for your review ({state}).", draggableCard: "draggable card", languageSwitch: "Language",
  cancelConfirm: "Cancel “{title}”? The running step stops; you can resume the job later.", cancelJob: "Cancel the job", keepRunning: "Keep it running",
  templateSlug: "Its address will be “{slug}”.", templateNameMissing: "Give the template a name.",
  generatedImages: { one: "{n} background generated for this video.", other: "{n} backgrounds generated for this video." },
  status_pending: "waiting", status_requested: "queued", status_running: "running", status_completed: "done",
  status_failed: "failed", status_skipped: "skipped (unchanged)", status_cancelled: "cancelled",
  msg_writing_script: "writing the script", msg_providers_skipped: "skipped {passed}",
  msg_provider_hands_over: "{failed}; {next} writes the script instead", msg_stage_reused: "{name} reused from an earlier attempt (not paid again)",
  msg_writing_stage: "writing {name} with {provider} ({chars} characters)", msg_attempt_refused: "attempt {attempt} refused: {problems}",
  msg_sentence_of: "sentence {n} of {total}", msg_part_of: "part {n} of {total}", msg_bus_was_away: "the message bus (NATS) was away for {seconds} s while {step} worked; the work went on and is reported now that it is back", msg_section_of: "section {n} of {total}", msg_section_kept: "section {n} of {total} (unchanged: kept from the last recording)",
  msg_voice_takes_over: "{failed}; {voice} takes over", msg_rendering_frames: "rendering {frames} frames",
  msg_encoder_falls_back: "{fallback}; rendering with libx264", msg_render_shares: "pictures {video}%, audio {audio}%",
  msg_muxing: "muxing video and audio", msg_saving_video: "saving the video",
  msg_shorts_fewer: { count: "made", one: "the narration holds {made} stretch of whole sentences lasting 15-59 s, so {made} of the {asked} shorts asked for is made",
    other: "the narration holds {made} stretches of whole sentences lasting 15-59 s, so {made} of the {asked} shorts asked for are made" },
  msg_refused_already_done: "the video is already done", msg_refused_step_running: "a step is running; wait for it or cancel",
  msg_refused_resume_first: "resume or retry the job first", msg_refused_only_forward: "jobs only move forward, and this one is in {column}",
  msg_refused_nothing_running: "only a job with a running step can be cancelled", msg_refused_not_stopped: "only failed or cancelled jobs can be resumed",
  msg_short_saved: "short {n} of {total} saved", msg_trying_again: "{error}; trying again in {delay} s (try {next} of {limit})",
  // review, render again, rescue (issue 14)
  recipe: "Recipe", stepByStep: "Step by step (review each step)", waitingReview: "Waiting for your review", onlyWaitingReview: "Waiting for review",
  reviewHint: "Waiting for your review: look at this step (edit it in its tab if needed), then “Approve and continue”, or drag the card to the next column.",
  reviewHintRender: "Waiting for your review: choose the render settings below, then Render, or drag the card to the next column.",
  retryCurrentConfig: "Retry with the current configuration", duplicate: "Duplicate", duplicated: "{title} duplicated: the copy is in To do.",
  renderSettings: "Render settings", captions: "Captions", captions_lines: "A line at a time", captions_words: "Large words", captions_off: "None",
  endCardSeconds: "End card (seconds)", endCardText: "End card text", endCardTitle: "empty: the title", renderNow: "Render", renderAgain: "Render again",
  renderStarted: "Rendering with these settings; the current video stays until the new one is saved.",
  ev_config_refreshed: "Configuration resolved again (current versions) for the retry", ev_render_settings_changed: "Render settings changed: {changes}",
};

const pt = {
  autoVideo: "Vídeo automático", retryAllFailed: "Repetir todos com falha", importBatch: "Importar", imported: { one: "{n} trabalho criado.", other: "{n} trabalhos criados." }, configuration: "Configuração", newVideo: "Novo vídeo",
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
  tabInfo: "Informações", tabOutline: "Estrutura", tabImages: "Imagens", tabScript: "Roteiro", tabAudio: "Áudios", tabLogs: "Registro",
  cancel: "Cancelar", resume: "Retomar", retry: "Tentar de novo", retryInstruction: "Instrução para a nova tentativa (opcional)",
  download: "Baixar", video: "Vídeo", thumbnail: "Miniatura", subtitles: "Legendas",
  eta: "faltam cerca de {time}", retries: { one: "{n} nova tentativa", other: "{n} novas tentativas" }, created: "Criado", updated: "Atualizado",
  nothingYet: "Nada aqui ainda.", noImages: "Sem imagens enviadas: os fundos são gerados.",
  connected: "Ao vivo", reconnecting: "Reconectando…", moved: "{title} vai para {column}.",
  refused: "Não movido: {message}", pickedUp: "{title} selecionado. Use as setas esquerda e direita, espaço para soltar, esc para cancelar.",
  dropTarget: "Soltar em {column}?", dropCancelled: "Movimento cancelado.", retriedN: { one: "{n} trabalho repetido.", other: "{n} trabalhos repetidos." },
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
  open: "Abrir", toastDone: "{title} está pronto.", toastFailed: "{title} falhou em {step}: {reason}",
  toastReview: "{title} aguarda sua revisão ({state}).", draggableCard: "cartão arrastável", languageSwitch: "Idioma",
  cancelConfirm: "Cancelar “{title}”? A etapa em andamento para; você pode retomar o trabalho depois.", cancelJob: "Cancelar o trabalho", keepRunning: "Continuar rodando",
  templateSlug: "O endereço será “{slug}”.", templateNameMissing: "Dê um nome ao modelo.",
  generatedImages: { one: "{n} fundo gerado para este vídeo.", other: "{n} fundos gerados para este vídeo." },
  status_pending: "aguardando", status_requested: "na fila", status_running: "rodando", status_completed: "concluída",
  status_failed: "falhou", status_skipped: "pulada (sem mudanças)", status_cancelled: "cancelada",
  msg_writing_script: "escrevendo o roteiro", msg_providers_skipped: "pulados: {passed}",
  msg_provider_hands_over: "{failed}; {next} escreve o roteiro no lugar", msg_stage_reused: "{name} reaproveitado de uma tentativa anterior (sem novo custo)",
  msg_writing_stage: "escrevendo {name} com {provider} ({chars} caracteres)", msg_attempt_refused: "tentativa {attempt} recusada: {problems}",
  msg_sentence_of: "frase {n} de {total}", msg_part_of: "parte {n} de {total}", msg_bus_was_away: "o barramento de mensagens (NATS) ficou fora do ar por {seconds} s enquanto {step} trabalhava; o trabalho continuou e é informado agora que ele voltou", msg_section_of: "seção {n} de {total}", msg_section_kept: "seção {n} de {total} (sem mudanças: mantida da última gravação)",
  msg_voice_takes_over: "{failed}; {voice} assume a narração", msg_rendering_frames: "renderizando {frames} quadros",
  msg_encoder_falls_back: "{fallback}; renderizando com libx264", msg_render_shares: "imagens {video}%, áudio {audio}%",
  msg_muxing: "juntando vídeo e áudio", msg_saving_video: "salvando o vídeo",
  msg_shorts_fewer: { count: "made", one: "a narração tem {made} trecho de frases inteiras com 15-59 s, então {made} dos {asked} shorts pedidos é feito",
    other: "a narração tem {made} trechos de frases inteiras com 15-59 s, então {made} dos {asked} shorts pedidos são feitos" },
  msg_refused_already_done: "o vídeo já está pronto", msg_refused_step_running: "uma etapa está rodando; espere ou cancele",
  msg_refused_resume_first: "retome ou repita o trabalho primeiro", msg_refused_only_forward: "os trabalhos só andam para a frente, e este está em {column}",
  msg_refused_nothing_running: "só um trabalho com uma etapa rodando pode ser cancelado", msg_refused_not_stopped: "só trabalhos com falha ou cancelados podem ser retomados",
  msg_short_saved: "short {n} de {total} salvo", msg_trying_again: "{error}; nova tentativa em {delay} s (tentativa {next} de {limit})",
  // revisão, renderizar de novo, resgate (issue 14)
  recipe: "Receita", stepByStep: "Passo a passo (revisar cada etapa)", waitingReview: "Aguardando sua revisão", onlyWaitingReview: "Aguardando revisão",
  reviewHint: "Aguardando sua revisão: confira esta etapa (edite na aba dela, se precisar) e depois “Aprovar e continuar”, ou arraste o cartão para a próxima coluna.",
  reviewHintRender: "Aguardando sua revisão: escolha os ajustes da renderização abaixo e depois Renderizar, ou arraste o cartão para a próxima coluna.",
  retryCurrentConfig: "Tentar de novo com a configuração atual", duplicate: "Duplicar", duplicated: "{title} duplicado: a cópia está em A fazer.",
  renderSettings: "Ajustes da renderização", captions: "Legendas", captions_lines: "Uma linha por vez", captions_words: "Palavras grandes", captions_off: "Nenhuma",
  endCardSeconds: "Cartão final (segundos)", endCardText: "Texto do cartão final", endCardTitle: "vazio: o título", renderNow: "Renderizar", renderAgain: "Renderizar de novo",
  renderStarted: "Renderizando com estes ajustes; o vídeo atual fica até o novo ser salvo.",
  ev_config_refreshed: "Configuração resolvida de novo (versões atuais) para a nova tentativa", ev_render_settings_changed: "Ajustes da renderização alterados: {changes}",
};

export const dictionaries = {
  en: { ...en, ...pages.en, ...fields.en },
  "pt-BR": { ...pt, ...pages["pt-BR"], ...fields["pt-BR"] },
  es: { ...es, ...pages.es, ...fields.es },
};

function detected() {
  const asked = (navigator.language || "en").toLowerCase();
  return asked.startsWith("pt") ? "pt-BR" : asked.startsWith("es") ? "es" : "en";
}

let current = dictionaries[localStorage.getItem("vfo.lang")] ? localStorage.getItem("vfo.lang") : detected();

export function lang() { return current; }

// A part of the page that brings its own texts (the script studio) adds them to a language here.
export function addTexts(code, texts) {
  if (dictionaries[code]) Object.assign(dictionaries[code], texts);
}

export function setLang(code) {
  current = dictionaries[code] ? code : "en";
  localStorage.setItem("vfo.lang", current);
  document.documentElement.lang = current;
}

// Which of a text's plural forms `n` takes in the current language.
function form(text, params) {
  if (typeof text === "string") return text;
  const n = Number(params[text.count || "n"] ?? 0);
  return text[new Intl.PluralRules(current).select(n)] ?? text.other;
}

export function t(key, params = {}) {
  const text = form(dictionaries[current][key] ?? dictionaries.en[key] ?? key, params);
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

// An API error in the reader's language: a refusal whose reason has a sentence here, else the API's text.
export function errorText(error) {
  const key = `msg_${error.reason}`;
  if (!error.reason || !(key in dictionaries.en)) return error.message;
  const params = { ...error.params };
  if (params.column) params.column = t(params.column);
  return t(key, params);
}

// Keys some language lacks (the test that every key exists in every language reads this).
export function missingKeys() {
  const all = new Set(Object.values(dictionaries).flatMap((d) => Object.keys(d)));
  return Object.fromEntries(Object.entries(dictionaries).map(([code, d]) => [code, [...all].filter((k) => !(k in d))]));
}

export function translatePage(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-label]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nLabel)); });
}

export function duration(seconds) {
  if (seconds == null) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

// Dates in the board's language (not the browser's): "2 de dez. de 2026 01:40" in pt-BR.
export function when(iso) {
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 ** 2).toFixed(1)} MB`;
}
