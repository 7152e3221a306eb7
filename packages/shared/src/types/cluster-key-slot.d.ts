// The package ships no types; this is the one function Spool uses.
declare module 'cluster-key-slot' {
  /** The Redis Cluster slot (0 to 16383) of a key, hash tags included. */
  export default function calculateSlot(key: string | Buffer): number;
}
