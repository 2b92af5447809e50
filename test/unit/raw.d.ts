// Vite's `?raw` suffix imports a file's text; used to load the shared WeChat fixtures byte-exact.
declare module "*?raw" {
  const text: string;
  export default text;
}
