// Count the uptime up between page loads.
(function () {
  var cell = document.getElementById("uptime");
  if (!cell) return;
  var seconds = parseInt(cell.textContent, 10);
  setInterval(function () { seconds += 1; cell.textContent = seconds + " s"; }, 1000);
})();
