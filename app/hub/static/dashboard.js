// MailBeacon hub dashboard: the project's own small script. Shows times in the reader's zone
// and keeps the overview live by asking /live for changes every few seconds. The page works
// without it; with it, new outage groups and new members appear within seconds, no reload.
(function () {
  "use strict";

  var timeFormat = null;
  try {
    timeFormat = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
    });
  } catch (e) { timeFormat = null; }

  function localTimes(root) {
    if (!timeFormat) { return; }
    var items = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < items.length; i++) {
      var t = items[i];
      var when = new Date(t.getAttribute("datetime"));
      if (!isNaN(when.getTime())) {
        t.title = t.textContent;  // the UTC time stays one hover away
        t.textContent = timeFormat.format(when);
      }
    }
  }

  function laptopsByGroup(root) {
    var seen = {};
    var items = root.querySelectorAll("[data-group]");
    for (var i = 0; i < items.length; i++) {
      seen[items[i].getAttribute("data-group")] = items[i].getAttribute("data-laptops");
    }
    return seen;
  }

  function startLive() {
    var body = document.body;
    var url = body.getAttribute("data-live");
    if (!url || !window.fetch) { return; }
    var version = body.getAttribute("data-version") || "";
    var every = parseInt(body.getAttribute("data-poll-ms"), 10) || 2000;
    var status = document.getElementById("live-status");
    var failures = 0;

    function say(text, stale) {
      if (!status) { return; }
      status.textContent = text;
      status.className = "live-status" + (stale ? " stale" : "");
    }

    function apply(parts) {
      var groups = document.getElementById("live-groups");
      var before = groups ? laptopsByGroup(groups) : {};
      var names = ["groups", "fleet", "incidents"];
      for (var i = 0; i < names.length; i++) {
        var target = document.getElementById("live-" + names[i]);
        if (target && typeof parts[names[i]] === "string") {
          // server-rendered and escaped by the hub's templates
          target.innerHTML = parts[names[i]];
          localTimes(target);
        }
      }
      if (groups) {
        var items = groups.querySelectorAll("[data-group]");
        for (var j = 0; j < items.length; j++) {
          var id = items[j].getAttribute("data-group");
          if (before[id] !== items[j].getAttribute("data-laptops")) {
            items[j].classList.add("flash");
          }
        }
      }
    }

    function poll() {
      fetch(url + "?v=" + encodeURIComponent(version), {
        credentials: "same-origin", headers: { "Accept": "application/json" }, cache: "no-store"
      }).then(function (resp) {
        if (resp.status === 401) {
          say("Signed out: reload the page to sign in again.", true);
          return null;
        }
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      }).then(function (data) {
        if (data === null) { return; }
        // the status line is a live region: it speaks only when something changed
        if (data.changed || failures > 0) {
          if (data.changed) {
            version = data.version;
            apply(data.parts || {});
          }
          say("Updated " + (timeFormat ? timeFormat.format(new Date()) : new Date().toISOString()), false);
        }
        failures = 0;
        window.setTimeout(poll, every);
      }).catch(function () {
        failures += 1;
        say("The hub is not answering; retrying…", true);
        window.setTimeout(poll, Math.min(every * Math.pow(2, failures), 30000));
      });
    }

    window.setTimeout(poll, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    startLive();
  });
}());
