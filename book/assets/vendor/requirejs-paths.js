/* Written by book/vendor.py: the widget bundle's fonts are found beside it, on any page. */
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  requirejs.config({paths: {"@jupyter-widgets/html-manager/dist": here + "html-manager"}});
})();
