// The kiosk screen: plain JavaScript against the service's own API, nothing loaded from elsewhere.
"use strict";

const TOKEN_KEY = "edgexray.token";
const $ = (id) => document.getElementById(id);
let canExplain = false;

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (ignored) { /* not JSON */ }
  return response.status + " " + response.statusText;
}

function askForToken(message) {
  $("classifier").hidden = true;
  $("token-form").hidden = false;
  $("token-message").textContent = message || "";
  $("token-input").value = "";
  $("token-input").focus();
}

async function connect() {
  const response = await fetch("v1/model", { headers: authHeaders() });
  if (response.status === 401) {
    const tried = sessionStorage.getItem(TOKEN_KEY) !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken(tried ? "401: wrong token. Try again." : "");
    return;
  }
  if (!response.ok) {
    askForToken("The service answered: " + (await errorText(response)));
    return;
  }
  const model = await response.json();
  const card = model.card;
  $("model-name").textContent = card.name + " · " + card.variant;
  if (card.intended_use) {
    $("clinical-note").textContent = card.intended_use;
    $("clinical-note").hidden = false;
  }
  canExplain = Boolean(model.explain);
  $("explain-toggle").hidden = !canExplain;
  $("token-form").hidden = true;
  $("classifier").hidden = false;
  $("choose").focus();
}

function showBars(probabilities, decided) {
  const list = $("bars");
  list.replaceChildren();
  for (const [label, p] of Object.entries(probabilities || {})) {
    const item = document.createElement("li");
    if (label === decided) item.className = "decided";
    const percent = (100 * p).toFixed(1);
    item.textContent = label + " " + percent + "%";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "img");
    bar.setAttribute("aria-label", label + " " + percent + " percent");
    const fill = document.createElement("span");
    fill.style.width = percent + "%";
    bar.append(fill);
    item.append(bar);
    list.append(item);
  }
}

// The input check the record carries: {status: passed|warned|rejected|off, findings: [{reason}]},
// and `rejected` (the reasons) when the image was not judged.
function showInputCheck(record) {
  const element = $("input-check");
  const check = record.input_check;
  let text = "";
  if (record.rejected) text = "Not judged: " + record.rejected;
  else if (check && check.status && check.status !== "off") {
    text = "Input check: " + check.status;
    const reasons = (check.findings || []).map((finding) => finding.reason).join("; ");
    if (reasons) text += " (" + reasons + ")";
  }
  element.textContent = text;
  element.className = check && check.status !== "passed" ? "warning" : "muted";
  element.hidden = !text;
}

function clearResult(status) {
  $("status").textContent = status;
  $("label").textContent = "";
  $("confidence").textContent = "";
  $("error").textContent = "";
  $("input-check").hidden = true;
  $("heatmap-note").hidden = true;
  $("overlay").hidden = true;
  $("bars").replaceChildren();
  showPreview(null, "");
}

// The image as the model saw it, rendered by the server as PNG (a browser cannot show DICOM, and a
// file it cannot decode would be a broken-image icon); null: no image, the drop hint instead.
function showPreview(url, name) {
  const preview = $("preview");
  if (url) {
    preview.src = url;
    preview.alt = name;
  } else {
    preview.removeAttribute("src");
    preview.alt = "";
  }
  preview.hidden = !url;
  $("drop-hint").hidden = Boolean(url);
}

async function classify(file) {
  clearResult("Classifying " + file.name + "…");
  const form = new FormData();
  form.append("file", file, file.name);
  const asked = canExplain && $("explain-input").checked ? "?preview=1&explain=1" : "?preview=1";
  let response;
  try {
    response = await fetch("v1/classify" + asked, {
      method: "POST", headers: authHeaders(), body: form,
    });
  } catch (failure) {
    clearResult("");
    $("error").textContent = "The service cannot be reached: " + failure.message;
    return;
  }
  if (response.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken("401: wrong token. Try again.");
    return;
  }
  if (!response.ok) {
    clearResult(file.name);
    $("error").textContent = response.status + ": " + (await errorText(response));
    return;
  }
  const record = await response.json();
  clearResult(record.path);
  showPreview(record.preview, record.path);
  showInputCheck(record);
  if (record.label) {
    $("label").textContent = record.label;
    $("confidence").textContent = "confidence " + (100 * record.confidence).toFixed(1) + "%";
  }
  showBars(record.probabilities, record.label);
  showHeatmap(record);
}

// The heatmap when its map shows evidence; otherwise the server's reason in words (a map below the
// floor drawn in colour would show bright regions where there is only noise; docs/explain.md).
function showHeatmap(record) {
  const explanation = record.explanation;
  if (!record.overlay || !explanation) return;
  if (explanation.localized) {
    $("overlay").src = record.overlay;
    $("overlay").hidden = false;
  } else {
    $("heatmap-note").textContent = "Heatmap: " + explanation.not_localized;
    $("heatmap-note").hidden = false;
  }
}

function setUp() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    connect();
  });
  $("file-input").addEventListener("change", () => {
    const file = $("file-input").files[0];
    if (file) classify(file);
    $("file-input").value = "";
  });
  // The label is the visible control: Enter or Space opens the file chooser.
  $("choose").addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      $("file-input").click();
    }
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const file = event.dataTransfer.files[0];
    if (file) classify(file);
  });
  connect();
}

setUp();
