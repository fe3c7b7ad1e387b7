// The log keys this build of the pages trusts: the trust anchor of every green badge.
//
// Pinning means that the key comes from somewhere the server being checked cannot change on its
// own. A key the server hands out at run time (in an API answer, or written into the page from
// its configuration when it starts) is the server's word, and a dishonest server would simply
// hand out its own. A key written here is part of the page's code: it is reviewed and released
// with the source, the same for every visitor, and a server that served other code would serve
// a page whose hash differs from the released one. The key is also shown on every page so that a
// person can compare it with the one printed on paper at a filing office.
//
// An operator deploying deedlog writes the log's vkey (`DATA/log.vkey`) here and builds the
// binary. This source tree pins no key, since every data folder makes its own; such a build
// trusts the first key it sees on first use and remembers it in the browser, and says so on
// every page (a later change of key is red).
export const PINNED_LOG_KEYS = [];

// The witness policy this build enforces (C2SP tlog-policy text: `log`, `witness`, `group`,
// `quorum` lines), pinned for the same reason as the log key: the witnesses are there to catch
// a server that shows different histories to different people, so their keys must not come from
// that server alone. An operator writes the policy here next to the log key. A build that pins
// none enforces the policy the server states in `/v1/log/checkpoint` (`deedlog serve
// --witness-policy`), remembered in the browser on first use, so that a later change is red.
export const PINNED_WITNESS_POLICY = '';
