/* Written by book/vendor.py: lets @jupyter-widgets (MathJax 2 API) typeset with MathJax 3. */
(function () {
  function install() {
    var MJ = window.MathJax;
    if (!MJ || MJ.Hub || !MJ.version || String(MJ.version).charAt(0) !== "3") return;
    MJ.Hub = {
      Queue: function () {
        for (var i = 0; i < arguments.length; i++) {
          var job = arguments[i];
          if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
            (function (el) {
              var ready = (MJ.startup && MJ.startup.promise) || Promise.resolve();
              ready.then(function () {
                return MJ.typesetPromise ? MJ.typesetPromise([el]) : null;
              }).catch(function (err) { console.warn("MathJax typeset failed:", err); });
            })(job[2]);
          }
        }
      }
    };
  }
  install();
  document.addEventListener("DOMContentLoaded", install);
})();
