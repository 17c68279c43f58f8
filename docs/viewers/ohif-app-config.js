/**
 * OHIF Viewer 3.x app-config.js for dicomweb-gateway (docs/viewers.md). Replace the origin; the viewer's own origin
 * must be listed in the gateway's http.corsOrigins unless both are served from one origin behind a proxy.
 * test/viewer-config.integration.test.ts loads this file and makes the viewer's first requests with it.
 */
window.config = {
  routerBasename: '/',
  showStudyList: true,
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'dicomweb-gateway',
      configuration: {
        friendlyName: 'dicomweb-gateway',
        name: 'dicomweb-gateway',
        qidoRoot: 'https://pacs-gateway.hospital.example/dicomweb',
        wadoRoot: 'https://pacs-gateway.hospital.example/dicomweb',
        // No WADO-URI: images come by WADO-RS frames.
        wadoUriRoot: 'https://pacs-gateway.hospital.example/dicomweb',
        qidoSupportsIncludeField: true,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        // Fuzzy matching only where the PACS grants it (a Warning says when it did not): off by default.
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        staticWado: false,
        // Bulk data may be asked for as a single part (application/octet-stream); frames come as multipart.
        singlepart: 'bulkdata',
        bulkDataURI: { enabled: true },
        // Frames as stored (transfer-syntax=*): compressed frames are decoded by the viewer, not the gateway.
        acceptHeader: ['multipart/related; type=application/octet-stream; transfer-syntax=*'],
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
  defaultDataSourceName: 'dicomweb-gateway',
  // Sign-in at the hospital's OpenID Connect provider: OHIF then sends the access token as
  // "Authorization: Bearer …" on every DICOMweb request (the gateway's auth.oauth must name the same issuer).
  oidc: [
    {
      authority: 'https://idp.hospital.example/realms/radiology',
      client_id: 'ohif-viewer',
      redirect_uri: '/callback',
      response_type: 'code',
      scope: 'openid dicomweb.read',
      post_logout_redirect_uri: '/logout-redirect.html',
    },
  ],
};
