// The live decision stream: server-sent events from /live/events, each added at the top of the list.
// Text only (textContent): a decision line is never parsed as HTML.
(function () {
  "use strict";
  var list = document.getElementById("live-events");
  var state = document.getElementById("live-state");
  if (!list || !window.EventSource) { return; }
  var last = Number(list.getAttribute("data-last") || "0");
  var source = new EventSource("/live/events?after=" + last);
  source.addEventListener("open", function () {
    state.textContent =
      "Connected: each decision appears here as it is made (a DM only as \"DM from user <id>\").";
  });
  source.addEventListener("error", function () {
    state.textContent = "Disconnected; trying again…";
  });
  source.addEventListener("decision", function (message) {
    var event = JSON.parse(message.data);
    var item = document.createElement("li");
    item.className = event.reply ? "reply" : "quiet";
    var time = document.createElement("time");
    time.setAttribute("datetime", event.at);
    time.textContent = event.time;
    item.appendChild(time);
    item.appendChild(document.createTextNode(" " + event.text));
    list.insertBefore(item, list.firstChild);
    while (list.children.length > 200) { list.removeChild(list.lastChild); }
    var empty = document.getElementById("live-empty");
    if (empty) { empty.parentNode.removeChild(empty); }
  });
}());
