/**
 * This environment for loadConfig, less what no command uses from it: its Redis settings (a
 * placeholder in their place) and the admin keys. Neither they nor a file holding them (mounted
 * in the flusher's pod, say, not where the command runs) is read or refused.
 */
export function environmentForCommands(): NodeJS.ProcessEnv {
  const {
    REDIS_CLUSTER_NODES: _nodes,
    REDIS_CLUSTER_NODES_FILE: _nodesFile,
    REDIS_URL_FILE: _urlFile,
    ADMIN_KEYS: _adminKeys,
    ADMIN_KEYS_FILE: _adminKeysFile,
    ...env
  } = process.env;
  return { ...env, REDIS_URL: 'redis://127.0.0.1:6379' };
}
