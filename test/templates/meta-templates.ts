/** Templates as Chatwoot stores them in `message_templates`: Meta's objects, as synced (Cloud API and 360dialog). */

export const orderUpdate = {
  name: 'order_update',
  language: 'en_US',
  status: 'APPROVED',
  category: 'UTILITY',
  id: '1043387310784129',
  parameter_format: 'POSITIONAL',
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}', example: { header_text: ['4411'] } },
    {
      type: 'BODY',
      text: 'Hi {{1}}, your order {{2}} is on its way and should arrive by {{3}}.',
      example: { body_text: [['Jane', '4411', 'Friday']] },
    },
    { type: 'FOOTER', text: 'Acme Shop' },
    {
      type: 'BUTTONS',
      buttons: [
        { type: 'QUICK_REPLY', text: 'Stop updates' },
        {
          type: 'URL',
          text: 'Track',
          url: 'https://acme.example/track/{{1}}',
          example: ['https://acme.example/track/AB12'],
        },
      ],
    },
  ],
};

export const orderUpdateSpanish = {
  ...orderUpdate,
  language: 'es',
  id: '1043387310784130',
  components: [
    {
      type: 'BODY',
      text: 'Hola {{1}}, tu pedido {{2}} está en camino.',
      example: { body_text: [['Juana', '4411']] },
    },
  ],
};

export const namedWelcome = {
  name: 'welcome_named',
  language: 'en',
  status: 'APPROVED',
  category: 'MARKETING',
  id: '2222',
  parameter_format: 'NAMED',
  components: [
    {
      type: 'BODY',
      text: 'Welcome {{ customer_name }}! Your code is {{discount_code}}.',
      example: {
        body_text_named_params: [
          { param_name: 'customer_name', example: 'Jane' },
          { param_name: 'discount_code', example: 'WELCOME10' },
        ],
      },
    },
    {
      type: 'BUTTONS',
      buttons: [{ type: 'COPY_CODE', text: 'Copy offer code', example: 'WELCOME10' }],
    },
  ],
};

export const invoiceDocument = {
  name: 'invoice_ready',
  language: 'en_GB',
  status: 'APPROVED',
  category: 'UTILITY',
  id: '3333',
  components: [
    { type: 'HEADER', format: 'DOCUMENT', example: { header_handle: ['https://scontent.whatsapp.net/v/t61/abc'] } },
    { type: 'BODY', text: 'Your invoice {{1}} is attached.', example: { body_text: [['INV-7']] } },
  ],
};

export const promoImage = {
  name: 'spring_promo',
  language: 'en',
  status: 'APPROVED',
  category: 'MARKETING',
  id: '4444',
  components: [
    { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['https://scontent.whatsapp.net/v/t61/img'] } },
    { type: 'BODY', text: 'Spring sale: 20% off everything this week.' },
    {
      type: 'BUTTONS',
      buttons: [
        { type: 'URL', text: 'Shop now', url: 'https://acme.example/spring' },
        { type: 'COPY_CODE', text: 'Copy code', example: ['SPRING20'] },
        { type: 'PHONE_NUMBER', text: 'Call us', phone_number: '+14155550100' },
      ],
    },
  ],
};

/** 360dialog's copy: lower-case status and types, a namespace. */
export const dialogHello = {
  name: 'hello',
  language: 'de',
  status: 'approved',
  category: 'UTILITY',
  namespace: 'c8ae5f90_307a_ca4c_b8f6_d1e2a2573574',
  components: [
    { type: 'header', format: 'text', text: 'Hallo' },
    { type: 'body', text: 'Hallo {{1}}, danke für Ihre Nachricht.' },
  ],
};

export const rejected = { ...orderUpdate, name: 'rejected_one', status: 'REJECTED' };
export const pending = { ...orderUpdate, name: 'pending_one', status: 'PENDING' };
