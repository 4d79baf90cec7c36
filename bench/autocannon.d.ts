// autocannon ships no types; this is the part the ingress scenario uses.
declare module 'autocannon' {
  interface Options {
    url: string;
    method?: string;
    connections?: number;
    duration?: number;
    body?: string;
    headers?: Record<string, string>;
    requests?: Array<{ method?: string; setupRequest?: <T extends { body?: string; headers?: Record<string, string> }>(request: T) => T }>;
  }
  interface Result {
    requests: { average: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    '2xx': number;
  }
  export default function autocannon(options: Options): Promise<Result>;
}
