// The log-in and configuration (admin) pages' text, in the board's three languages.
const en = {
  login_title: "Log in", login_key: "API key", login_button: "Log in",
  login_hint: "On your own machine, the first start wrote an admin key to {file} ({command} prints a link that logs you in).",
  adm_title: "Configuration", adm_board: "← Board", adm_kinds: "Kinds", adm_new: "New", adm_name: "Name", adm_version: "Version",
  adm_state: "State", adm_changed: "Changed", adm_description: "Description", adm_active: "active", adm_inactive: "inactive",
  adm_keyMissing: "key missing", adm_keySet: "key set", adm_keyNotSet: "{env} is not set", adm_map: "execution map", adm_webhooks: "webhooks",
  adm_newOf: "New: {kind}", adm_create: "Create", adm_saveVersion: "Save new version", adm_all: "← All",
  adm_deactivate: "Deactivate", adm_activate: "Activate", adm_notJson: "Not valid JSON: {reason}", adm_valid: "✓ valid",
  adm_saved: "Saved {slug} v{version}", adm_isActive: "{slug} is active", adm_isInactive: "{slug} is inactive",
  adm_history: "History", adm_diff: "Diff", adm_rollBack: "Roll back to this", adm_rolledBack: "{slug} is back to v{version}'s content, as v{now}",
  adm_mapTitle: "Execution map", adm_usedFor: "Used for", adm_kind: "Kind", adm_item: "Item", adm_missing: "missing", adm_inactiveNote: "(inactive)",
  adm_viewForm: "Form", adm_viewJson: "JSON", adm_jsonLabel: "Item as JSON", adm_fixJsonFirst: "Fix the JSON first: {reason}",
  kind_prompts: "Prompts", kind_providers: "Providers", kind_presets: "Presets", kind_validators: "Validators",
  kind_recipes: "Recipes", kind_knowledge: "Knowledge", kind_projects: "Projects",
  sfNone: "(none)", sfDefault: "(default)", sfOnePerLine: "one per line", sfNotJson: "Not valid JSON: {reason}",
};

const pt = {
  login_title: "Entrar", login_key: "Chave de API", login_button: "Entrar",
  login_hint: "Na sua máquina, a primeira inicialização gravou uma chave de administrador em {file} ({command} mostra um link que faz o login).",
  adm_title: "Configuração", adm_board: "← Quadro", adm_kinds: "Tipos", adm_new: "Novo", adm_name: "Nome", adm_version: "Versão",
  adm_state: "Situação", adm_changed: "Alterado", adm_description: "Descrição", adm_active: "ativo", adm_inactive: "inativo",
  adm_keyMissing: "chave ausente", adm_keySet: "chave definida", adm_keyNotSet: "{env} não está definida", adm_map: "mapa de execução", adm_webhooks: "webhooks",
  adm_newOf: "Novo: {kind}", adm_create: "Criar", adm_saveVersion: "Salvar nova versão", adm_all: "← Todos",
  adm_deactivate: "Desativar", adm_activate: "Ativar", adm_notJson: "JSON inválido: {reason}", adm_valid: "✓ válido",
  adm_saved: "{slug} v{version} salvo", adm_isActive: "{slug} está ativo", adm_isInactive: "{slug} está inativo",
  adm_history: "Histórico", adm_diff: "Diferenças", adm_rollBack: "Voltar para esta", adm_rolledBack: "{slug} voltou ao conteúdo da v{version}, como v{now}",
  adm_mapTitle: "Mapa de execução", adm_usedFor: "Usado para", adm_kind: "Tipo", adm_item: "Item", adm_missing: "ausente", adm_inactiveNote: "(inativo)",
  adm_viewForm: "Formulário", adm_viewJson: "JSON", adm_jsonLabel: "Item em JSON", adm_fixJsonFirst: "Corrija o JSON primeiro: {reason}",
  kind_prompts: "Prompts", kind_providers: "Provedores", kind_presets: "Predefinições", kind_validators: "Validadores",
  kind_recipes: "Receitas", kind_knowledge: "Conhecimento", kind_projects: "Projetos",
  sfNone: "(nenhum)", sfDefault: "(padrão)", sfOnePerLine: "um por linha", sfNotJson: "JSON inválido: {reason}",
};

const es = {
  login_title: "Iniciar sesión", login_key: "Clave de API", login_button: "Iniciar sesión",
  login_hint: "En tu propia máquina, el primer arranque escribió una clave de administrador en {file} ({command} muestra un enlace que inicia la sesión).",
  adm_title: "Configuración", adm_board: "← Tablero", adm_kinds: "Tipos", adm_new: "Nuevo", adm_name: "Nombre", adm_version: "Versión",
  adm_state: "Estado", adm_changed: "Modificado", adm_description: "Descripción", adm_active: "activo", adm_inactive: "inactivo",
  adm_keyMissing: "falta la clave", adm_keySet: "clave definida", adm_keyNotSet: "{env} no está definida", adm_map: "mapa de ejecución", adm_webhooks: "webhooks",
  adm_newOf: "Nuevo: {kind}", adm_create: "Crear", adm_saveVersion: "Guardar nueva versión", adm_all: "← Todos",
  adm_deactivate: "Desactivar", adm_activate: "Activar", adm_notJson: "JSON no válido: {reason}", adm_valid: "✓ válido",
  adm_saved: "{slug} v{version} guardado", adm_isActive: "{slug} está activo", adm_isInactive: "{slug} está inactivo",
  adm_history: "Historial", adm_diff: "Diferencias", adm_rollBack: "Volver a esta", adm_rolledBack: "{slug} volvió al contenido de la v{version}, como v{now}",
  adm_mapTitle: "Mapa de ejecución", adm_usedFor: "Se usa para", adm_kind: "Tipo", adm_item: "Elemento", adm_missing: "falta", adm_inactiveNote: "(inactivo)",
  adm_viewForm: "Formulario", adm_viewJson: "JSON", adm_jsonLabel: "Elemento en JSON", adm_fixJsonFirst: "Corrige primero el JSON: {reason}",
  kind_prompts: "Prompts", kind_providers: "Proveedores", kind_presets: "Ajustes predefinidos", kind_validators: "Validadores",
  kind_recipes: "Recetas", kind_knowledge: "Conocimiento", kind_projects: "Proyectos",
  sfNone: "(ninguno)", sfDefault: "(predeterminado)", sfOnePerLine: "uno por línea", sfNotJson: "JSON no válido: {reason}",
};

export const pages = { en, "pt-BR": pt, es };
