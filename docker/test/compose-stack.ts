import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const COMPOSE_FILE = fileURLToPath(new URL('../compose.yml', import.meta.url));

/** A docker-compose project of docker/compose.yml, under a name of its own. */
export class ComposeStack {
  constructor(
    readonly project: string,
    private readonly env: Record<string, string>,
  ) {}

  async compose(...args: string[]): Promise<string> {
    const { stdout } = await run('docker-compose', ['-p', this.project, '-f', COMPOSE_FILE, ...args], {
      env: { ...process.env, ...this.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  }

  async up(scale: Record<string, number>): Promise<void> {
    const scales = Object.entries(scale).flatMap(([service, count]) => ['--scale', `${service}=${count}`]);
    await this.compose('up', '-d', '--quiet-pull', ...scales);
  }

  async down(): Promise<void> {
    await this.compose('down', '-v', '--timeout', '5');
  }

  /** `http://127.0.0.1:<port>` published for replica `index` (1-based) of `service`. */
  async url(service: string, port: number, index = 1): Promise<string> {
    const address = (await this.compose('port', `--index=${index}`, service, String(port))).trim();
    return `http://${address}`;
  }

  /** Container ids of a service's replicas. */
  async containers(service: string): Promise<string[]> {
    return (await this.compose('ps', '-q', service)).split('\n').filter(Boolean);
  }

  async redis(...args: string[]): Promise<string> {
    return (await this.compose('exec', '-T', 'redis', 'redis-cli', ...args)).trim();
  }
}

export async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
}
