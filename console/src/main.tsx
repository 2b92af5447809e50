/** The merchant console's entry: renders the app into #app (console/index.html). */
import { render } from "preact";
import { App } from "./app";

const root = document.getElementById("app");
if (root) render(<App />, root);
