export const SPOOL = 'spool';
