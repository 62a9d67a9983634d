// The admin form's field labels (the registry's model fields), in the board's three languages; a
// field not listed here is labelled with its schema title.
const names = {
  // field: [English, Portuguese, Spanish]
  active: ["Active", "Ativo", "Activo"], audio_bitrate: ["Audio bitrate", "Taxa de bits do áudio", "Tasa de bits del audio"],
  audio_codec: ["Audio codec", "Codec de áudio", "Códec de audio"], bitrate: ["Video bitrate", "Taxa de bits do vídeo", "Tasa de bits del video"],
  captions: ["Captions", "Legendas", "Subtítulos"], content: ["Content", "Conteúdo", "Contenido"], crf: ["Quality (CRF)", "Qualidade (CRF)", "Calidad (CRF)"],
  default_duration: ["Default duration", "Duração padrão", "Duración predeterminada"], default_language: ["Default language", "Idioma padrão", "Idioma predeterminado"],
  default_recipe: ["Default recipe", "Receita padrão", "Receta predeterminada"], description: ["Description", "Descrição", "Descripción"],
  ducking_db: ["Music ducking (dB)", "Abaixar a música (dB)", "Atenuar la música (dB)"], effects_preset: ["Effects preset", "Predefinição de efeitos", "Ajuste de efectos"],
  encoder: ["Encoder", "Codificador", "Codificador"], end_card_s: ["End card (s)", "Cartão final (s)", "Tarjeta final (s)"],
  end_card_text: ["End card text", "Texto do cartão final", "Texto de la tarjeta final"], engine: ["Engine", "Motor", "Motor"],
  forbidden_patterns: ["Forbidden patterns", "Padrões proibidos", "Patrones prohibidos"], format: ["Format", "Formato", "Formato"],
  fps: ["Frames per second", "Quadros por segundo", "Fotogramas por segundo"], generator: ["Generator", "Gerador", "Generador"],
  height: ["Height (px)", "Altura (px)", "Alto (px)"], ken_burns: ["Slow zoom (Ken Burns)", "Zoom lento (Ken Burns)", "Zoom lento (Ken Burns)"],
  key_env: ["Key's environment variable", "Variável de ambiente da chave", "Variable de entorno de la clave"],
  knowledge_tiers: ["Knowledge tiers", "Níveis de conhecimento", "Niveles de conocimiento"], language: ["Language", "Idioma", "Idioma"],
  max_attempts: ["Most attempts", "Máximo de tentativas", "Máximo de intentos"], max_tokens: ["Most tokens", "Máximo de tokens", "Máximo de tokens"],
  max_words: ["Most words", "Máximo de palavras", "Máximo de palabras"], message: ["Message", "Mensagem", "Mensaje"],
  min_sections: ["Fewest sections", "Mínimo de seções", "Mínimo de secciones"], min_words: ["Fewest words", "Mínimo de palavras", "Mínimo de palabras"],
  model: ["Model", "Modelo", "Modelo"], music: ["Music", "Música", "Música"], music_volume_db: ["Music volume (dB)", "Volume da música (dB)", "Volumen de la música (dB)"],
  name: ["Name", "Nome", "Nombre"], pauses_ms: ["Pauses (ms)", "Pausas (ms)", "Pausas (ms)"], pitch: ["Pitch", "Tom", "Tono"],
  pixel_format: ["Pixel format", "Formato de pixel", "Formato de píxel"], pool: ["Render pool", "Grupo de renderização", "Grupo de renderizado"],
  prompts: ["Prompts", "Prompts", "Prompts"], prosody_pitch: ["Prosody pitch", "Tom da prosódia", "Tono de la prosodia"],
  prosody_rate: ["Prosody rate", "Velocidade da prosódia", "Velocidad de la prosodia"], prosody_volume: ["Prosody volume", "Volume da prosódia", "Volumen de la prosodia"],
  providers: ["Providers", "Provedores", "Proveedores"], rate_wpm: ["Words per minute", "Palavras por minuto", "Palabras por minuto"],
  recipes: ["Recipes", "Receitas", "Recetas"], role: ["Role", "Papel", "Papel"], script_preset: ["Script preset", "Predefinição de roteiro", "Ajuste de guion"],
  section_pause_ms: ["Pause between sections (ms)", "Pausa entre seções (ms)", "Pausa entre secciones (ms)"],
  sentence_pause_ms: ["Pause between sentences (ms)", "Pausa entre frases (ms)", "Pausa entre frases (ms)"], settings: ["Settings", "Ajustes", "Ajustes"],
  slug: ["Slug (name in URLs)", "Slug (nome nas URLs)", "Slug (nombre en las URL)"], ssml_preset: ["SSML preset", "Predefinição SSML", "Ajuste SSML"],
  stages: ["Stages", "Etapas", "Etapas"], step: ["Step", "Etapa", "Paso"], steps: ["Steps", "Etapas", "Pasos"], style: ["Style", "Estilo", "Estilo"],
  style_degree: ["Style strength", "Intensidade do estilo", "Intensidad del estilo"], system_prompt: ["System prompt", "Prompt de sistema", "Prompt de sistema"],
  temperature: ["Temperature", "Temperatura", "Temperatura"], tier: ["Tier", "Nível", "Nivel"], title: ["Title", "Título", "Título"],
  title_card_s: ["Title card (s)", "Cartão de título (s)", "Tarjeta de título (s)"], transition: ["Transition", "Transição", "Transición"],
  transition_s: ["Transition (s)", "Transição (s)", "Transición (s)"], type: ["Type", "Tipo", "Tipo"],
  user_template: ["User template", "Modelo da mensagem", "Plantilla del mensaje"], validators: ["Validators", "Validadores", "Validadores"],
  version: ["Version", "Versão", "Versión"], video_preset: ["Video preset", "Predefinição de vídeo", "Ajuste de video"], voice: ["Voice", "Voz", "Voz"],
  width: ["Width (px)", "Largura (px)", "Ancho (px)"], x264_preset: ["x264 speed preset", "Velocidade do x264", "Velocidad de x264"],
};

const column = (n) => Object.fromEntries(Object.entries(names).map(([field, labels]) => [`field_${field}`, labels[n]]));
export const fields = { en: column(0), "pt-BR": column(1), es: column(2) };
