// camauth's passkey ceremonies (PRODUCT §19): the only script camauth serves.
//
// Elements marked data-passkey="register" (a form with a name field) or
// data-passkey="login" (a block with a button) carry two URLs: data-options-url,
// which starts a ceremony and returns the WebAuthn options as JSON, and data-url,
// which takes the browser's answer and replies {"redirect": URL} or
// {"error": CODE, "message": TEXT}. The CSRF token goes in the X-CSRF-Token header.
// Without passkey support (or without this script) the elements stay hidden and
// the password and code forms work as before.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBytes(descriptors) {
    return (descriptors || []).map(function (descriptor) {
      return Object.assign({}, descriptor, { id: toBytes(descriptor.id) });
    });
  }

  // the server's JSON options, with the byte fields the browser API wants as bytes
  function creationOptions(json) {
    var options = Object.assign({}, json, { challenge: toBytes(json.challenge) });
    options.user = Object.assign({}, json.user, { id: toBytes(json.user.id) });
    options.excludeCredentials = withBytes(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    var options = Object.assign({}, json, { challenge: toBytes(json.challenge) });
    options.allowCredentials = withBytes(json.allowCredentials);
    return options;
  }

  // the browser's answer as JSON, in the shape the webauthn package parses
  function credentialJSON(credential) {
    var response = credential.response;
    var answer = {};
    ["clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle"]
      .forEach(function (field) {
        if (response[field]) {
          answer[field] = toText(response[field]);
        }
      });
    if (typeof response.getTransports === "function") {
      answer.transports = response.getTransports();
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: answer,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function csrfToken(element) {
    var field = element.querySelector('input[name="csrf_token"]') ||
      document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }

  function post(url, element, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken(element) },
      body: JSON.stringify(body || {}),
    }).then(function (reply) {
      return reply.json().catch(function () {
        return { message: "The server's answer could not be read (" + reply.status + ")." };
      }).then(function (data) {
        if (!reply.ok) {
          throw new Error(data.message || "The passkey was refused.");
        }
        return data;
      });
    });
  }

  // the alert is hidden while empty: an empty alert is still an alert to assistive
  // technology (and to a test looking for the page's one alert)
  function say(element, text) {
    var message = element.querySelector("[data-passkey-message]");
    if (message) {
      message.textContent = text;
      message.hidden = !text;
    }
  }

  function browserRefusal(error) {
    if (error && error.name === "NotAllowedError") {
      return "The passkey request was cancelled or timed out. Try again when you are ready.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This passkey is registered already.";
    }
    return (error && error.message) || "The passkey did not work. Try again.";
  }

  function ceremony(element, button, steps) {
    if (button.disabled) {
      return; // a second click while the first ceremony runs
    }
    button.disabled = true;
    say(element, "");
    steps()
      .then(function (done) {
        window.location.assign(done.redirect);
      })
      .catch(function (error) {
        say(element, browserRefusal(error));
        button.disabled = false;
      });
  }

  function loginTarget(element) {
    var next = document.querySelector('form#login input[name="next"]');
    var url = element.dataset.url;
    return next && next.value ? url + "?next=" + encodeURIComponent(next.value) : url;
  }

  function setUpLogin(element) {
    var button = element.querySelector("button");
    button.addEventListener("click", function () {
      ceremony(element, button, function () {
        return post(element.dataset.optionsUrl, element)
          .then(function (json) {
            return navigator.credentials.get({ publicKey: requestOptions(json) });
          })
          .then(function (credential) {
            return post(loginTarget(element), element, { credential: credentialJSON(credential) });
          });
      });
    });
  }

  function setUpRegister(form) {
    var button = form.querySelector('button[type="submit"]');
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.elements.name.value.trim();
      if (!name) {
        say(form, "Give the passkey a name, such as the device it is on.");
        form.elements.name.focus();
        return;
      }
      ceremony(form, button, function () {
        return post(form.dataset.optionsUrl, form)
          .then(function (json) {
            return navigator.credentials.create({ publicKey: creationOptions(json) });
          })
          .then(function (credential) {
            return post(form.dataset.url, form, { name: name, credential: credentialJSON(credential) });
          });
      });
    });
  }

  if (!window.PublicKeyCredential || !window.fetch) {
    return; // the elements stay hidden; the note saying so stays shown
  }
  document.querySelectorAll("[data-passkey-unavailable]").forEach(function (note) {
    note.hidden = true;
  });
  document.querySelectorAll("[data-passkey]").forEach(function (element) {
    if (element.dataset.passkey === "register") {
      setUpRegister(element);
    } else {
      setUpLogin(element);
    }
    element.hidden = false;
  });
})();
