/** The proxy's version, shown by --version, the banner and GET /. */
export const VERSION = "0.1.0";
