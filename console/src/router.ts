/**
 * Hash routing (#/orders, #/orders/<outTradeNo>, …): the browser only ever requests /console/, so
 * the static assets need no fallback and a reload keeps the page.
 */
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "orders" }
  | { page: "order"; outTradeNo: string }
  | { page: "anomalies" }
  | { page: "reconciliation" }
  | { page: "webhooks" }
  | { page: "webhook"; id: string }
  | { page: "products" }
  | { page: "health" };

export function parseRoute(hash: string): Route {
  const [first, second] = hash.replace(/^#\/?/, "").split("/").map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return "";
    }
  });
  switch (first) {
    case "orders":
      return second ? { page: "order", outTradeNo: second } : { page: "orders" };
    case "webhooks":
      return second ? { page: "webhook", id: second } : { page: "webhooks" };
    case "anomalies":
    case "reconciliation":
    case "products":
    case "health":
      return { page: first };
    default:
      return { page: "orders" };
  }
}

/** The href of a route. */
export function href(route: Route): string {
  switch (route.page) {
    case "order":
      return `#/orders/${encodeURIComponent(route.outTradeNo)}`;
    case "webhook":
      return `#/webhooks/${encodeURIComponent(route.id)}`;
    default:
      return `#/${route.page}`;
  }
}

export function navigate(route: Route): void {
  location.hash = href(route);
}

/** The current route, following hashchange. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const follow = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  return route;
}
