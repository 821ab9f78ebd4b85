// The connection switcher in the top bar submits as soon as a connection is chosen.
document.addEventListener("change", (event) => {
  if (event.target && event.target.id === "connection-switcher") event.target.form.submit();
});
