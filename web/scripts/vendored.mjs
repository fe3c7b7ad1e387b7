// The npm files served to the browser, and where their committed copies live.
export const VENDORED = [
  { from: 'node_modules/@noble/ed25519/index.js', to: 'public/noble-ed25519.js' },
  { from: 'node_modules/uqr/dist/index.mjs', to: 'public/uqr.js' },
];
